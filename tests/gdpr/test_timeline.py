"""`vivier why`'s timeline: every dated fact about a candidate, oldest first, each fact once."""

from __future__ import annotations

import json
import logging
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import app
from tests import builders
from tests.test_preview_cli import offline
from tests.web.test_browser import browser  # noqa: F401  (the same headless chromium fixture)
from vivier.gdpr.timeline import candidate_timeline
from vivier.pauses import record_pause, record_resume
from vivier.store.schema import Application, Candidate, Consent, Decision, Interaction, Preference, Run, Send

runner = CliRunner()
T = datetime(2026, 11, 2, 8, tzinfo=UTC)


def interaction(conn: Any, candidate_id: int, kind: str, at: datetime, **fields: Any) -> None:
    conn.execute(sa.insert(Interaction), {"candidate_id": candidate_id, "kind": kind, "occurred_at": at,
                                          "details": fields.pop("details", {}), **fields})


def history(engine: sa.Engine) -> int:
    """A candidate with a bit of everything; the last six facts share one instant (T + 9 days)."""
    candidate_id = builders.candidate(engine, external_id="ATS-TL", consent=None)
    tie = T + timedelta(days=9)
    with engine.begin() as conn:
        run_id = conn.execute(sa.insert(Run).returning(Run.id), {
            "cadence": "weekly", "period_key": "2026-W45", "state": "completed", "started_at": T,
            "heartbeat_at": T, "summary": {}}).scalar_one()
        conn.execute(sa.insert(Consent), {"candidate_id": candidate_id, "purpose": "nurturing",
                                          "state": "granted", "source": "web", "evidence": {},
                                          "recorded_at": T - timedelta(days=30)})
        interaction(conn, candidate_id, "consent_granted", T - timedelta(days=30))  # an echo
        send_id = conn.execute(sa.insert(Send).returning(Send.id), {
            "candidate_id": candidate_id, "cadence": "weekly", "period_key": "2026-W45",
            "status": "sent", "run_id": run_id, "template": "weekly", "segment": "tech",
            "created_at": T, "sent_at": T + timedelta(minutes=1)}).scalar_one()
        interaction(conn, candidate_id, "message_sent", T + timedelta(minutes=1), send_id=send_id)  # echo
        for kind, minutes in (("delivered", 2), ("opened", 60), ("clicked", 61), ("replied", 90)):
            interaction(conn, candidate_id, kind, T + timedelta(minutes=minutes), send_id=send_id,
                        cadence="weekly", period_key="2026-W45",
                        details={"url": "https://jobs.example.org/1"} if kind == "clicked" else {})
        conn.execute(sa.insert(Application), {
            "candidate_id": candidate_id, "job_ref": "JOB-7", "outcome": "hired",
            "applied_at": T + timedelta(days=2), "updated_at": T + timedelta(days=3)})
        interaction(conn, candidate_id, "applied", T + timedelta(days=2))  # echoes of the import
        interaction(conn, candidate_id, "hired", T + timedelta(days=5),
                    event_key=f"ats:hired:{candidate_id}:JOB-7")
        record_pause(conn, candidate_id, date(2026, 11, 20), ZoneInfo("Europe/Paris"),
                     "talks with a client", "ana", now=T + timedelta(days=6))
        record_resume(conn, candidate_id, "ana", now=T + timedelta(days=7))
        # Six facts at one instant, written in the reverse of the order the timeline shows.
        interaction(conn, candidate_id, "clicked", tie, send_id=send_id, cadence="weekly",
                    period_key="2026-W45")
        interaction(conn, candidate_id, "opened", tie + timedelta(0), send_id=send_id,
                    cadence="weekly", period_key="2026-W45")
        conn.execute(sa.insert(Decision), {
            "run_id": run_id, "candidate_id": candidate_id, "cadence": "weekly",
            "period_key": "2026-W46", "reason": "paused", "segment": "tech", "decided_at": tie})
        record_pause(conn, candidate_id, date(2026, 12, 1), ZoneInfo("Europe/Paris"), "again", "ana",
                     now=tie)
        interaction(conn, candidate_id, "preference_changed", tie,
                    details={"field": "frequency", "from": None, "to": "monthly"})
        conn.execute(sa.insert(Preference), {"candidate_id": candidate_id, "frequency": "monthly",
                                             "privileged": False, "updated_at": tie, "source": "web"})
        conn.execute(sa.insert(Consent), {"candidate_id": candidate_id, "purpose": "nurturing",
                                          "state": "granted", "source": "renewal", "evidence": {},
                                          "recorded_at": tie})
    return candidate_id


def test_the_timeline_is_in_time_order_each_fact_once_and_ties_keep_one_order(engine) -> None:
    candidate_id = history(engine)
    with engine.connect() as conn:
        moments = candidate_timeline(conn, candidate_id)
    assert [(m.kind, m.summary) for m in moments] == [
        ("consent", "consent granted (nurturing, source web)"),
        ("send", "message sent (weekly, segment tech)"),
        ("delivered", "delivered"),
        ("opened", "opened"),
        ("clicked", "clicked https://jobs.example.org/1"),
        ("replied", "replied"),
        ("applied", "applied to job JOB-7"),
        ("hired", "application to job JOB-7: hired"),  # dated by the ATS's hire, not the row's update
        ("paused", "paused through 2026-11-20 by ana: talks with a client"),
        ("resumed", "pause ended by ana"),
        # the tie: consent, preference, pause, decision, then what came back (by row id)
        ("consent", "consent granted (nurturing, source renewal)"),
        ("preference_changed", "preference changed: frequency None → monthly"),
        ("paused", "paused through 2026-12-01 by ana: again"),
        ("decision", "not messaged: paused"),
        ("clicked", "clicked"),
        ("opened", "opened"),
    ]
    assert moments[7].at == T + timedelta(days=5)
    with engine.connect() as conn:
        assert [m.kind for m in candidate_timeline(conn, candidate_id, "weekly", "2026-W46")] == [
            "consent", "applied", "hired", "paused", "resumed", "consent", "preference_changed",
            "paused", "decision"]  # the period's facts, and those of no period


def test_a_preference_nobody_recorded_a_change_for_shows_as_it_stands(engine) -> None:
    candidate_id = builders.candidate(engine, frequency="quarterly")
    with engine.connect() as conn:
        moments = candidate_timeline(conn, candidate_id)
    assert [m.summary for m in moments] == [
        "consent granted (nurturing, source test)",
        "preference quarterly, not privileged (source test)"]


def test_why_json_holds_the_timeline_and_the_page_is_private(engine, settings, tmp_path, caplog) -> None:
    candidate_id = history(engine)
    caplog.set_level(logging.DEBUG)
    machine = runner.invoke(app, ["why", "ATS-TL", "--json"])
    assert machine.exit_code == 0, machine.output
    timeline = json.loads(machine.output)["timeline"]
    assert set(timeline[0]) == {"at", "kind", "summary", "cadence", "period_key", "details", "group",
                                "row_id"}
    assert [entry["at"] for entry in timeline] == sorted(entry["at"] for entry in timeline)
    assert timeline[1]["details"]["status"] == "sent" and timeline[1]["period_key"] == "2026-W45"

    shown = runner.invoke(app, ["why", "ATS-TL"], terminal_width=200)
    assert "timeline (oldest first)" in shown.output and "paused through" in shown.output

    page = tmp_path / "why.html"
    done = runner.invoke(app, ["why", "ATS-TL", "--html", str(page)])
    assert done.exit_code == 0, done.output
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    text = page.read_text()
    assert "For the recruiting team only." in text and f"Candidate {candidate_id} (ATS ATS-TL)" in text
    with engine.connect() as conn:
        address = conn.scalar(sa.select(Candidate.email).where(Candidate.id == candidate_id))
    assert address not in text and address not in machine.output and address not in caplog.text
    refused = runner.invoke(app, ["why", "ATS-TL", "--html", str(Path(settings.database_url[10:]))])
    assert refused.exit_code == 2 and "is not a vivier timeline page" in refused.output


@pytest.mark.browser
def test_the_timeline_page_reads_in_a_browser_offline(engine, settings, request, tmp_path) -> None:
    chromium = request.getfixturevalue("browser")
    history(engine)
    page_file = tmp_path / "why.html"
    assert runner.invoke(app, ["why", "ATS-TL", "--html", str(page_file)]).exit_code == 0
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    outside = offline(page)
    page.goto(page_file.as_uri())
    rows = page.locator("#timeline tbody tr")
    assert rows.count() == 16
    assert rows.first.inner_text().split("\t")[1] == "consent"
    assert "paused" in rows.nth(8).inner_text()
    page.screenshot(path=str(tmp_path / "timeline.png"), full_page=True)
    assert outside == []
