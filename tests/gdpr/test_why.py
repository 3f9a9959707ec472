"""`vivier why`: the record answers "why did (or didn't) this person get that message?"."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests import builders
from tests.gdpr.cadence_run import run_cadence
from tests.gdpr.cli import app
from vivier.gdpr.why import explain
from vivier.rules.cadences import period_key, today_in
from vivier.rules.segments import load_segments
from vivier.store.schema import Consent

runner = CliRunner()


def why(engine, settings, candidate_id, cadence=None, period=None):
    with engine.connect() as conn:
        return explain(conn, candidate_id, load_segments(settings.segments_file),
                       settings.retention_months, cadence, period)


def consent_ids(engine, candidate_id) -> list[int]:
    with engine.connect() as conn:
        return list(conn.scalars(sa.select(Consent.id).where(Consent.candidate_id == candidate_id)
                                 .order_by(Consent.recorded_at, Consent.id)))


@pytest.mark.usefixtures("catalog")
def test_a_sent_message_shows_its_template_and_the_consent_in_force_when_it_left(engine, settings) -> None:
    day = today_in(settings.zone)
    sent = builders.candidate(engine)
    spec = run_cadence(engine, settings, "weekly", day)
    builders.consent_event(engine, sent, "withdrawn", datetime.now(UTC) + timedelta(seconds=1))

    story = why(engine, settings, sent)

    assert (story.cadence, story.consent.state) == ("weekly", "withdrawn")
    [period] = story.periods
    assert (period.cadence, period.period_key, period.outcome) == ("weekly", spec.period_key, "sent")
    assert period.segment == story.segment == "tech"  # expertise Data
    assert period.template == load_segments(settings.segments_file).template("tech", "weekly")
    assert period.template_version and period.message_id
    assert period.consent.state == "granted"  # what was in force when it left
    assert period.consent.consent_id == consent_ids(engine, sent)[0]


def test_an_excluded_candidate_shows_the_decision_and_the_consent_behind_it(engine, settings) -> None:
    day = today_in(settings.zone)
    withdrawn = builders.candidate(engine, consent="withdrawn")
    never = builders.candidate(engine, consent=None)
    pool_none = builders.candidate(engine, frequency="none")
    run_cadence(engine, settings, "weekly", day)
    run_cadence(engine, settings, "weekly", day, dry_run=True)

    first = why(engine, settings, withdrawn).periods[0]
    assert (first.outcome, first.dry_run, first.consent.state) == ("consent_withdrawn", False, "withdrawn")
    assert [d["dry_run"] for d in first.decisions] == [False, True]  # every run is on record
    assert why(engine, settings, never).periods[0].outcome == "no_consent"
    assert why(engine, settings, never).periods[0].consent is None
    story = why(engine, settings, pool_none)
    assert (story.cadence, story.periods[0].outcome) == ("none", "pool_none")


def test_a_period_no_run_considered_says_so(engine, settings) -> None:
    candidate_id = builders.candidate(engine, frequency="monthly")
    run_cadence(engine, settings, "weekly", today_in(settings.zone))
    key = period_key("weekly", today_in(settings.zone))
    [period] = why(engine, settings, candidate_id, "weekly", key).periods
    assert period.outcome == "not_considered" and "did not consider" in period.detail
    [never_run] = why(engine, settings, candidate_id, "quarterly", "2024-Q1").periods
    assert never_run.detail == "no quarterly run for 2024-Q1 yet"


@pytest.mark.usefixtures("catalog")
def test_why_on_the_command_line_as_a_table_and_as_json(engine, settings) -> None:
    day = today_in(settings.zone)
    sent = builders.candidate(engine, external_id="ATS-WHY-1")
    run_cadence(engine, settings, "weekly", day)
    key = period_key("weekly", day)

    shown = runner.invoke(app, ["why", "ATS-WHY-1"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert f"candidate {sent}" in shown.output and key in shown.output and "sent" in shown.output
    assert "granted" in shown.output

    machine = runner.invoke(app, ["why", str(sent), "--period", key, "--json"])
    assert machine.exit_code == 0, machine.output
    data = json.loads(machine.output)
    assert data["periods"][0]["outcome"] == "sent"
    assert data["periods"][0]["consent"]["state"] == "granted"
    assert "@" not in machine.output.replace("@vivier", "")  # ids and facts, no address


def test_why_refuses_a_malformed_period_or_an_unknown_candidate(engine, settings) -> None:
    builders.candidate(engine, external_id="ATS-WHY-2")
    bad = runner.invoke(app, ["why", "ATS-WHY-2", "--cadence", "weekly", "--period", "2026-11"])
    assert bad.exit_code == 2 and "malformed weekly period key" in bad.output
    unknown = runner.invoke(app, ["why", "ATS-NOBODY"])
    assert unknown.exit_code == 2 and "no candidate with internal id or ATS id 'ATS-NOBODY'" in unknown.output
