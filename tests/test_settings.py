"""Settings: laptop defaults, VIVIER_ variables, and errors that name the variable to fix."""

from __future__ import annotations

import logging

import pytest
from typer.testing import CliRunner

from app.cli import app
from vivier.settings import DEMO_SECRET, SettingsError, get_settings, load_settings


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
    ("VIVIER_SENDER_ADDRESS", "Talents <talents@vivier.example>", "VIVIER_SENDER_ADDRESS: .*bare address"),
    ("VIVIER_SENDER_ADDRESS", "talents@vivier.example\nBcc: all@x.org", "VIVIER_SENDER_ADDRESS"),
    ("VIVIER_SENDER_NAME", "Talents\r\nBcc: all@x.org", "VIVIER_SENDER_NAME: .*one line"),
    ("VIVIER_PUBLIC_BASE_URL", "https://talents.example/a b", "VIVIER_PUBLIC_BASE_URL: .*no spaces"),
    ("VIVIER_PUBLIC_BASE_URL", "https://talents.example/?x=1", "VIVIER_PUBLIC_BASE_URL: .*query"),
    ("VIVIER_PUBLIC_BASE_URL", "https://" + "a" * 300 + ".example", "VIVIER_PUBLIC_BASE_URL: .*200"),
    ("VIVIER_SMTP_HOST", "smtp://mail.example:25", "VIVIER_SMTP_HOST: .*host name"),
    ("VIVIER_SMTP_USER", "vivier", "VIVIER_SMTP_USER is set but VIVIER_SMTP_PASSWORD is empty"),
    ("VIVIER_SECRET_KEY", "", "VIVIER_SECRET_KEY: .*empty"),
    ("VIVIER_OLD_SECRET_KEYS", '[""]', "VIVIER_OLD_SECRET_KEYS: .*empty key"),
    ("VIVIER_ENV", "staging", "VIVIER_ENV: .*'production' or 'demo'"),
    ("VIVIER_SAMPLES_KEEP_DAYS", "-1", "VIVIER_SAMPLES_KEEP_DAYS"),
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
    assert "VIVIER_SECRET_KEY is the demo default: sends and the web app refuse it" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        load_settings(secret_key="a-real-secret-of-at-least-32-bytes!")
    assert caplog.text == ""


STRONG = "x" * 32


@pytest.mark.parametrize(("secret", "old", "env", "problem"), [
    (DEMO_SECRET, [], "production", "VIVIER_SECRET_KEY is the public demo key"),
    ("x" * 31, [], "production", "VIVIER_SECRET_KEY is shorter than 32 bytes"),
    (STRONG, ["short"], "production", "VIVIER_OLD_SECRET_KEYS holds"),
    (STRONG, [DEMO_SECRET], "production", "VIVIER_OLD_SECRET_KEYS holds"),
    (STRONG, ["y" * 32], "production", None),
    ("é" * 16, [], "production", None),  # bytes, not characters
    (DEMO_SECRET, ["short"], "demo", None),
])
def test_outside_the_demo_link_keys_are_32_bytes_and_never_the_demo_key(
        secret: str, old: list[str], env: str, problem: str | None) -> None:
    settings = load_settings(secret_key=secret, old_secret_keys=old, env=env)
    found = settings.signing_key_problem()
    assert (found is None) if problem is None else (found is not None and found.startswith(problem))
    if problem:
        with pytest.raises(SettingsError, match="32 bytes"):
            settings.require_signing_keys()


def test_the_web_app_refuses_to_start_with_a_weak_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIVIER_SECRET_KEY", "too-short")
    result = CliRunner().invoke(app, ["web"])
    assert result.exit_code == 2
    assert "shorter than 32 bytes" in result.output


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


@pytest.mark.parametrize("secret,kept", [(" ", False), ("\t \n", False), ("", False), ("s3cret-hook", True)])
def test_a_blank_webhook_secret_counts_as_unset(secret: str, kept: bool) -> None:
    settings = load_settings(webhook_secret=secret)
    assert (settings.webhook_secret is not None) is kept
