"""`vivier pause` / `vivier resume`: a recruiter keeps one person out of nurturing for a while."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import app
from tests import builders
from vivier.gdpr.why import explain
from vivier.pauses import PauseProblem, pause_end, record_pause, record_resume, until_day
from vivier.pipeline.run import run_period
from vivier.rules.cadences import today_in
from vivier.rules.eligibility import CandidateFacts, Reason, exclusion
from vivier.rules.segments import load_segments
from vivier.store.schema import Decision, Interaction, Send

runner = CliRunner()
NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)


def facts(**changes) -> CandidateFacts:
    base = dict(candidate_id=1, erased=False, consent="granted", suppressed=False, frequency=None,
                ledger_status=None, last_contacted_at=None)
    return CandidateFacts(**(base | changes))


def test_a_pause_excludes_until_it_ends_and_no_longer() -> None:
    ends = pause_end(date(2026, 11, 30), ZoneInfo("Europe/Paris"))
    assert ends == datetime(2026, 11, 30, 23, tzinfo=UTC)  # midnight in Paris, UTC+1
    assert exclusion(facts(paused_until=ends), NOW, timedelta(0)) == Reason.paused
    assert exclusion(facts(paused_until=ends), ends, timedelta(0)) is None
    # the person's own GDPR choices are named first
    withdrawn = facts(paused_until=ends, consent="withdrawn")
    assert exclusion(withdrawn, NOW, timedelta(0)) == Reason.consent_withdrawn


def test_until_or_days_exactly_one_and_never_in_the_past() -> None:
    today = date(2026, 11, 23)
    assert until_day(None, 7, today) == date(2026, 11, 30)
    assert until_day(today, None, today) == today  # the rest of today
    for until, days in ((None, None), (today, 3), (date(2026, 11, 22), None), (None, 0)):
        with pytest.raises(PauseProblem):
            until_day(until, days, today)


@pytest.mark.usefixtures("catalog")
def test_a_paused_candidate_is_recorded_paused_in_a_real_run_and_a_resumed_one_is_sent(
        engine, resources) -> None:
    zone = resources.settings.zone
    day = today_in(zone)
    paused, resumed, other, expired = (builders.candidate(engine) for _ in range(4))
    with engine.begin() as conn:
        for candidate_id in (paused, resumed):
            record_pause(conn, candidate_id, day + timedelta(days=7), zone, "talks with the client", "ana")
        record_resume(conn, resumed, "ana", now=datetime.now(UTC) + timedelta(seconds=1))
        record_pause(conn, expired, day, zone, "short", "ana", now=datetime.now(UTC) - timedelta(days=3))
        conn.execute(sa.update(Interaction).where(Interaction.candidate_id == expired).values(
            details={"until": "2020-01-01", "ends_at": "2020-01-02T00:00:00+01:00",
                     "reason": "old", "by": "ana"}))

    summary = run_period(resources, "weekly", day)

    assert summary.tally.reasons["paused"] == 1
    with engine.connect() as conn:
        assert sorted(conn.scalars(sa.select(Send.candidate_id))) == sorted([resumed, other, expired])
        assert conn.execute(sa.select(Decision.candidate_id, Decision.reason)).all() == [(paused, "paused")]
        decision_detail = conn.scalar(sa.select(Decision.detail))
    assert "talks with the client" not in repr(summary.tally.__dict__) + str(decision_detail)


def test_pause_and_resume_on_the_command_line_show_in_why(engine, settings) -> None:
    candidate_id = builders.candidate(engine, external_id="ATS-PAUSE-1")
    done = runner.invoke(app, ["pause", "ATS-PAUSE-1", "--days", "14", "--reason", "on leave"])
    assert done.exit_code == 0, done.output
    last_day = today_in(settings.zone) + timedelta(days=14)
    assert f"paused through {last_day:%Y-%m-%d}" in done.output

    with engine.connect() as conn:
        story = explain(conn, candidate_id, load_segments(settings.segments_file), settings.retention_months)
    assert story.paused and story.paused["until"] == last_day.isoformat()
    assert (story.paused["reason"], story.paused["by"]) == ("on leave", __import__("getpass").getuser())
    shown = runner.invoke(app, ["why", str(candidate_id)], terminal_width=200)
    assert "paused now" in shown.output and "on leave" in shown.output

    assert runner.invoke(app, ["resume", f"id:{candidate_id}"]).exit_code == 0
    with engine.connect() as conn:
        story = explain(conn, candidate_id, load_segments(settings.segments_file), settings.retention_months)
    assert story.paused is None
    again = runner.invoke(app, ["resume", str(candidate_id)])
    assert again.exit_code == 0 and "not paused" in again.output


@pytest.mark.parametrize("arguments", [
    ["ATS-NOBODY", "--days", "3", "--reason", "x"],
    ["ATS-PAUSE-2", "--until", "2020-01-01", "--reason", "x"],
    ["ATS-PAUSE-2", "--until", "2099-01-01", "--days", "3", "--reason", "x"],
    ["ATS-PAUSE-2", "--reason", "x"],
    ["ATS-PAUSE-2", "--until", "next week", "--reason", "x"],
    ["ATS-PAUSE-2", "--days", "3", "--reason", " "],
])
def test_pause_refuses_bad_input_with_one_line(engine, settings, arguments) -> None:
    builders.candidate(engine, external_id="ATS-PAUSE-2")
    refused = runner.invoke(app, ["pause", *arguments])
    assert refused.exit_code == 2
    assert len(refused.output.strip().splitlines()) == 1, refused.output
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Interaction)) == 0


def test_resume_refuses_an_unknown_candidate(engine, settings) -> None:
    assert runner.invoke(app, ["resume", "ATS-NOBODY"]).exit_code == 2
