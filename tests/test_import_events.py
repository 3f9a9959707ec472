"""`vivier import events` and `vivier import applications`: files in, each thing recorded once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import app
from tests import builders
from tests.test_events import WHEN, address_of, rows, sent
from tests.test_import import write as write_lines
from vivier.gdpr.anonymise import anonymise
from vivier.imports.applications import import_applications
from vivier.imports.event_file import import_events
from vivier.imports.report import ImportFileError
from vivier.rules.identity import email_hash
from vivier.store.schema import Application, Candidate, Consent, Interaction, Suppression

pytestmark = pytest.mark.both_dialects  # imports' upserts, per dialect

EVENTS_HEADER = "type,message_id,occurred_at,id,bounce_type,url,recipient"
APPLICATIONS_HEADER = "external_id,job,applied_at,outcome"


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    return write_lines(tmp_path, *lines, name=name)


def rejections(report) -> list[tuple[int, str]]:
    return [(rejection.line, rejection.reason) for rejection in report.rejected]


def external_id(engine: sa.Engine, candidate_id: int) -> str:
    with engine.connect() as conn:
        return conn.scalar(sa.select(Candidate.external_id).where(Candidate.id == candidate_id))


# --- events -----------------------------------------------------------------------------------

def test_an_events_csv_imported_twice_is_recorded_once(engine, tmp_path: Path) -> None:
    cid = builders.candidate(engine)
    message_id = sent(engine, cid)
    path = write(tmp_path, "events.csv", EVENTS_HEADER,
                 f"delivered,{message_id},{WHEN.isoformat()},e1,,,",
                 f"clicked,{message_id.strip('<>')},{WHEN.isoformat()},,,https://jobs.example.org/1,",
                 f"bounced,{message_id},{WHEN.isoformat()},e3,hard,,")
    first = import_events(engine, path)
    again = import_events(engine, path)
    assert (first.imported, first.skipped, first.result.suppressed, first.rejected) == (3, 0, 1, [])
    assert (again.imported, again.skipped, again.result.suppressed) == (0, 3, 0)
    assert sorted(row.kind for row in rows(engine, Interaction)) == ["bounced", "clicked", "delivered"]
    assert [row.email_hash for row in rows(engine, Suppression)] == [email_hash(address_of(engine, cid))]


def test_events_jsonl_bad_lines_are_rejected_with_their_line_number(engine, tmp_path: Path) -> None:
    cid = builders.candidate(engine)
    message_id = sent(engine, cid)
    good = {"type": "complained", "message_id": message_id, "occurred_at": WHEN.isoformat()}
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([
        json.dumps(good),
        json.dumps({**good, "type": "bounced", "recipient": "secret@example.org"}),
        "",
        "{not json",
        json.dumps({**good, "occurred_at": "2026-11-23T09:30:00"}),
        json.dumps(["a", "list"]),
        json.dumps({"type": "opened", "message_id": message_id}),
        json.dumps({**good, "id": "x", "extra": {"nested": True}}),
        json.dumps({**good, "type": "orphaned", "id": None}),
    ]) + "\n", encoding="utf-8")
    report = import_events(engine, path)
    assert report.imported == 1 and report.result.withdrawn == 1
    assert [line for line, _ in rejections(report)] == [2, 4, 5, 6, 7, 8, 9]
    reasons = dict(rejections(report))
    assert "bounce_type (hard or soft) is required" in reasons[2]
    assert "not valid JSON" in reasons[4]
    assert reasons[5].startswith("occurred_at:")
    assert "lacks required field(s) occurred_at" in reasons[7]
    assert "secret@example.org" not in str(report.rejected)
    assert rows(engine, Consent, candidate_id=cid)[-1].state == "withdrawn"


def test_an_unreadable_events_file_imports_nothing(engine, tmp_path: Path) -> None:
    path = write(tmp_path, "events.csv", "type,message_id", "delivered,<m@vivier.example>")
    with pytest.raises(ImportFileError, match="lacks required column"):
        import_events(engine, path)
    assert rows(engine, Interaction) == []


def test_the_events_command_prints_the_counts_and_exits_1_on_rejected_rows(
    engine, settings, tmp_path: Path
) -> None:
    message_id = sent(engine, builders.candidate(engine))
    path = write(tmp_path, "events.csv", EVENTS_HEADER,
                 f"bounced,{message_id},{WHEN.isoformat()},e1,hard,,",
                 f"delivered,<nobody@elsewhere.example>,{WHEN.isoformat()},e2,,,",
                 f"bounced,{message_id},{WHEN.isoformat()},e3,,,")
    result = CliRunner().invoke(app, ["import", "events", str(path), "--source", "postmark"])
    assert result.exit_code == 1, result.output
    assert "2 events imported" in result.output and "1 rejected" in result.output
    assert "1 orphan event(s)" in result.output and "1 address(es) suppressed" in result.output
    assert {row.event_key for row in rows(engine, Interaction)} == {"postmark:e1", "postmark:e2"}
    bad_source = CliRunner().invoke(app, ["import", "events", str(path), "--source", "Bad Name"])
    assert bad_source.exit_code == 2


# --- applications -----------------------------------------------------------------------------

def test_applications_are_upserted_per_candidate_and_job(engine, tmp_path: Path) -> None:
    cid = builders.candidate(engine, last_applied_at=datetime(2026, 1, 1, tzinfo=UTC))
    ats = external_id(engine, cid)
    first = import_applications(engine, write(
        tmp_path, "a.csv", APPLICATIONS_HEADER,
        f"{ats},J-1,2026-03-10T10:00:00+01:00,", f"{ats},J-2,2026-02-01,interview"))
    assert (first.imported, first.updated, first.rejected) == (2, 0, [])
    later = import_applications(engine, write(
        tmp_path, "b.csv", APPLICATIONS_HEADER,
        f"{ats},J-1,2026-03-12,offer",  # a later date: the earliest stays
        f"{ats},J-2,2026-01-20,",  # an earlier date and no outcome: the outcome stays
        f"{ats},J-2,2026-01-25,"))  # the same application twice in one file
    assert (later.imported, later.updated) == (0, 2)
    stored = {row.job_ref: (row.applied_at, row.outcome) for row in rows(engine, Application)}
    assert stored == {"J-1": (datetime(2026, 3, 10, 9, 0, tzinfo=UTC), "offer"),
                      "J-2": (datetime(2026, 1, 19, 23, 0, tzinfo=UTC), "interview")}
    with engine.connect() as conn:
        last = conn.scalar(sa.select(Candidate.last_applied_at).where(Candidate.id == cid))
    assert last == datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    applied = rows(engine, Interaction, kind="applied")
    assert sorted(row.details["job"] for row in applied) == ["J-1", "J-2"]


def test_a_hire_is_recorded_once_whatever_is_reimported(engine, tmp_path: Path) -> None:
    ats = external_id(engine, builders.candidate(engine))
    hired = write(tmp_path, "hired.jsonl", json.dumps(
        {"external_id": ats, "job": "J-7", "applied_at": "2026-02-01", "outcome": "hired",
         "outcome_at": "2026-04-01T12:00:00+00:00"}))
    assert import_applications(engine, hired).hires == 1
    assert import_applications(engine, hired).hires == 0
    import_applications(engine, write(tmp_path, "again.csv", APPLICATIONS_HEADER,
                                      f"{ats},J-7,2026-02-01,rejected", f"{ats},J-7,2026-02-01,hired"))
    (hire,) = rows(engine, Interaction, kind="hired")
    assert hire.occurred_at == datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
    assert len(rows(engine, Interaction, kind="applied")) == 1
    assert rows(engine, Application)[0].outcome == "hired"


def test_bad_application_rows_are_rejected_with_their_line_number(engine, tmp_path: Path) -> None:
    ok = external_id(engine, builders.candidate(engine))
    erased = builders.candidate(engine)
    with engine.begin() as conn:
        anonymise(conn, [erased], source="request")
    path = write(tmp_path, "apps.csv", APPLICATIONS_HEADER,
                 f"{ok},J-1,2026-02-01,",
                 "NOBODY,J-1,2026-02-01,",
                 f"{external_id(engine, erased)},J-1,2026-02-01,",
                 f"{ok},J-2,2026-02-01,promoted",
                 f"{ok},J-3,2999-01-01,",
                 f"{ok},,2026-02-01,",
                 f"{ok},J-4,yesterday,",
                 f"{ok},J-5,2026-02-01,hired,extra")
    report = import_applications(engine, path)
    assert report.imported == 1
    reasons = dict(rejections(report))
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9]
    assert "unknown candidate external_id" in reasons[3]
    assert "erased" in reasons[4]
    assert "unknown outcome 'promoted'" in reasons[5]
    assert "in the future" in reasons[6]
    assert "job is empty" in reasons[7]
    assert "not an ISO 8601 date" in reasons[8]
    assert "fields where the header has" in reasons[9]
    assert [row.kind for row in rows(engine, Interaction, candidate_id=erased)] == ["erased"]


def test_the_applications_command_prints_a_summary(engine, settings, tmp_path: Path) -> None:
    ats = external_id(engine, builders.candidate(engine))
    path = write(tmp_path, "apps.csv", APPLICATIONS_HEADER, f"{ats},J-1,2026-02-01,hired")
    result = CliRunner().invoke(app, ["import", "applications", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 applications imported" in result.output and "1 hire(s) recorded" in result.output
    again = CliRunner().invoke(app, ["import", "applications", str(path)])
    assert "1 already recorded (skipped)" in again.output
