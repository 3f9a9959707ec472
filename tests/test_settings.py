"""Settings: laptop defaults, VIVIER_ variables, and errors that name the variable to fix."""

from __future__ import annotations

import logging

import pytest
from typer.testing import CliRunner

from app.cli import app
from vivier.settings import SettingsError, get_settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch):
    import os

    for name in list(os.environ):
        if name.startswith("VIVIER_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defaults_work_on_a_laptop() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///var/vivier.db"
    assert settings.transport == "maildir" and str(settings.maildir_path) == "var/outbox"
    assert settings.team_timezone == "Europe/Paris" and settings.retention_months == 24


def test_environment_variables_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIVIER_DATABASE_URL", "postgresql://u:p@db/vivier")
    monkeypatch.setenv("VIVIER_BATCH_SIZE", "2500")
    monkeypatch.setenv("VIVIER_OLD_SECRET_KEYS", '["old-1", "old-2"]')
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://u:p@db/vivier"
    assert settings.batch_size == 2500
    assert [key.get_secret_value() for key in settings.old_secret_keys] == ["old-1", "old-2"]


@pytest.mark.parametrize(("name", "value", "message"), [
    ("VIVIER_TEAM_TIMEZONE", "Mars/Olympus", "VIVIER_TEAM_TIMEZONE: .*unknown time zone"),
    ("VIVIER_TRANSPORT", "pigeon", "VIVIER_TRANSPORT: .*'maildir', 'smtp' or 'none'"),
    ("VIVIER_BATCH_SIZE", "many", "VIVIER_BATCH_SIZE: .*valid integer"),
    ("VIVIER_QUALITY_THRESHOLD", "2", "VIVIER_QUALITY_THRESHOLD: .*less than or equal to 1"),
    ("VIVIER_DATABASE_URL", "mysql://x", "VIVIER_DATABASE_URL: .*only sqlite"),
    ("VIVIER_PUBLIC_BASE_URL", "example.org", "VIVIER_PUBLIC_BASE_URL: .*http"),
    ("VIVIER_SMTP_PORT", "70000", "VIVIER_SMTP_PORT"),
])
def test_an_invalid_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, name: str,
                                               value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()


def test_a_bad_secret_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIVIER_OLD_SECRET_KEYS", "not-json-hunter2")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "VIVIER_OLD_SECRET_KEYS" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_the_demo_secret_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        load_settings()
    assert "VIVIER_SECRET_KEY is the demo default" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        load_settings(secret_key="a-real-secret")
    assert caplog.text == ""


def test_the_cli_stops_with_the_message_and_exit_code_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIVIER_TEAM_TIMEZONE", "Nowhere/Land")
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2
    assert "VIVIER_TEAM_TIMEZONE" in result.output


def test_every_setting_is_documented_in_the_readme() -> None:
    """Operators configure vivier from the README's table: a knob missing there does not exist."""
    import re

    from vivier.settings import PROJECT_ROOT, Settings

    rows = [line.split("|")[1] for line in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
            .splitlines() if line.startswith("| `VIVIER_")]
    documented = {name for cell in rows for name in re.findall(r"`(VIVIER_[A-Z_]+)`", cell)}
    missing = sorted(f"VIVIER_{field.upper()}" for field in Settings.model_fields
                     if f"VIVIER_{field.upper()}" not in documented)
    assert missing == []
