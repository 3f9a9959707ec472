"""Bad arguments and paths get a one-line answer and exit 2, never a traceback; files with
personal data are private, never written through a link or over another file."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from tests import builders
from vivier.settings import Settings, get_settings


def vivier(*args: str, **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "1000", **env})
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.parametrize("reference", ["99999999999999999999999", "id:99999999999999999999999",
                                       "²", "id:", "ats:", "", "-1", "id:abc"])
def test_why_with_an_odd_id_says_no_candidate(engine, settings, reference: str) -> None:
    code, output = vivier("why", "--", reference)
    assert code == 2 and "no candidate" in output


def test_gdpr_export_writes_a_new_private_file_only(engine, settings, tmp_path: Path) -> None:
    someone = str(builders.candidate(engine))
    code, output = vivier("gdpr", "export", someone, "-o", str(tmp_path / "missing" / "x.json"))
    assert code == 2 and "does not exist" in output
    assert not (tmp_path / "missing").exists()
    code, output = vivier("gdpr", "export", someone, "-o", str(tmp_path))
    assert code == 2 and "is a folder" in output
    target = tmp_path / "elsewhere.txt"
    target.write_text("someone else's file")
    (tmp_path / "link.json").symlink_to(target)
    code, output = vivier("gdpr", "export", someone, "-o", str(tmp_path / "link.json"))
    assert code == 2 and "symbolic link" in output
    code, output = vivier("gdpr", "export", someone, "-o", str(target))
    assert code == 2 and "already exists" in output
    assert target.read_text() == "someone else's file"
    code, _ = vivier("gdpr", "export", someone, "-o", str(tmp_path / "request.json"))
    assert code == 0 and mode(tmp_path / "request.json") == 0o600


def test_report_html_never_overwrites_what_is_not_its_report(engine, settings: Settings,
                                                             tmp_path: Path) -> None:
    database = Path(settings.database_url.split("///", 1)[1])
    before = database.read_bytes()
    code, output = vivier("report", "--html", str(database))
    assert code == 2 and "not a vivier HTML report" in output
    assert database.read_bytes() == before
    code, output = vivier("report", "--html", str(tmp_path))
    assert code == 2 and "is a folder" in output
    (tmp_path / "link.html").symlink_to(database)
    code, output = vivier("report", "--html", str(tmp_path / "link.html"))
    assert code == 2 and "symbolic link" in output
    page = tmp_path / "report.html"
    assert vivier("report", "--html", str(page))[0] == 0
    assert vivier("report", "--html", str(page))[0] == 0  # its own report: replaced


def test_a_sqlite_url_whose_folder_is_missing_is_an_error_not_a_new_database(
        settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nowhere = tmp_path / "typo" / "vivier.db"
    missing = tmp_path / "vivier-new.db"
    for url, command, answer in [
        (nowhere, ("status", "weekly", "--period", "2026-W48"), "does not exist"),
        (missing, ("report",), "no database at"),
    ]:
        monkeypatch.setenv("VIVIER_DATABASE_URL", f"sqlite:///{url}")
        get_settings.cache_clear()
        code, output = vivier(*command)
        assert code == 2 and answer in output and "vivier db upgrade" in output
        assert not url.exists()
    assert not nowhere.parent.exists()
    get_settings.cache_clear()


def test_db_upgrade_creates_a_private_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "new" / "vivier.db"
    monkeypatch.setenv("VIVIER_DATABASE_URL", f"sqlite:///{database}")
    get_settings.cache_clear()
    try:
        assert vivier("db", "upgrade")[0] == 0
    finally:
        get_settings.cache_clear()
    assert mode(database) == 0o600 and mode(database.parent) == 0o700


@pytest.mark.usefixtures("catalog")
def test_samples_are_private_and_purged_after_their_days(engine, settings: Settings,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from vivier.pipeline.resources import Resources
    from vivier.pipeline.run import run_period
    from vivier.rules.cadences import today_in

    monkeypatch.setenv("VIVIER_SECRET_KEY", "k" * 32)
    monkeypatch.setenv("VIVIER_SAMPLES_KEEP_DAYS", "3")
    get_settings.cache_clear()
    settings = get_settings()
    old = Path(settings.samples_dir) / "weekly-2020-W01" / "candidate-1.eml"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"an old sample")
    four_days_ago = time.time() - 4 * 86_400
    os.utime(old, (four_days_ago, four_days_ago))
    someone = builders.candidate(engine)
    run_period(Resources.build(settings), "weekly", today_in(settings.zone), dry_run=True)
    assert not old.parent.exists()
    assert mode(Path(settings.samples_dir)) == 0o700
    written = list(Path(settings.samples_dir).glob(f"*/candidate-{someone}.eml"))
    assert written
    assert vivier("gdpr", "erase", str(someone), "--yes")[0] == 0
    assert not any(path.exists() for path in written)  # erasure purges their samples


@pytest.mark.parametrize("key", ["vivier-demo-secret-change-me", "short-key"])
def test_a_run_with_a_weak_key_stops_before_prefect_starts(settings, monkeypatch: pytest.MonkeyPatch,
                                                          key: str) -> None:
    monkeypatch.setenv("VIVIER_SECRET_KEY", key)
    get_settings.cache_clear()
    code, output = vivier("run", "weekly", "--dry-run")
    assert code == 2 and "VIVIER_SECRET_KEY" in output and "32 bytes" in output
    get_settings.cache_clear()
