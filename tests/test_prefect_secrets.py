"""Secrets the Prefect way: VIVIER_*_BLOCK names a Prefect Secret block that holds the secret."""

from __future__ import annotations

import pytest
from prefect.blocks.system import Secret
from sqlalchemy import make_url

from flows.nurture import nurture
from tasks.secrets import with_prefect_secrets
from testing.smtp import SmtpSink
from tests import builders
from vivier.rules.cadences import today_in
from vivier.settings import SettingsError, get_settings, load_settings

pytestmark = [pytest.mark.usefixtures("prefect_harness", "catalog"), pytest.mark.smtp]


def test_the_smtp_password_comes_from_a_prefect_secret_block(engine, settings, monkeypatch) -> None:
    Secret(value="s3cret-from-prefect").save("vivier-test-smtp-password", overwrite=True)
    builders.candidate(engine)
    with SmtpSink(auth=("vivier", "s3cret-from-prefect")) as sink:
        for name, value in {"VIVIER_TRANSPORT": "smtp", "VIVIER_SMTP_PORT": str(sink.port),
                            "VIVIER_SMTP_TLS": "plain", "VIVIER_SMTP_USER": "vivier",
                            "VIVIER_SMTP_PASSWORD_BLOCK": "vivier-test-smtp-password"}.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        assert get_settings().smtp_password is None  # nothing in the environment
        summary = nurture(cadence="weekly", as_of=today_in(settings.zone))
        assert summary["stages"]["sent"] == 1 and sink.count == 1  # logged in with the block's value


def test_the_link_key_and_the_database_password_come_from_blocks() -> None:
    Secret(value="k" * 40).save("vivier-test-secret-key", overwrite=True)
    Secret(value="db-pass-from-prefect").save("vivier-test-db-password", overwrite=True)
    base = load_settings(secret_key_block="vivier-test-secret-key",
                         database_url="postgresql+psycopg://vivier@db.internal:5432/vivier",
                         database_password_block="vivier-test-db-password")
    complete = with_prefect_secrets(base)
    assert complete.secret_key.get_secret_value() == "k" * 40
    assert make_url(complete.database_url).password == "db-pass-from-prefect"
    assert "db-pass-from-prefect" not in repr(complete)  # a secret is never shown
    assert with_prefect_secrets(load_settings()) is not None


def test_a_missing_block_is_an_error_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="VIVIER_WEBHOOK_SECRET_BLOCK='no-such-block'"):
        with_prefect_secrets(load_settings(webhook_secret_block="no-such-block"))
