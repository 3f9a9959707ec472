"""Pipeline-aware nurturing: the ATS's applications hold candidates out, and say which one holds.

Through a real cadence run (`run_period` on the test's own resources). An open application
holds; a hire holds for VIVIER_HIRED_PAUSE_MONTHS, a rejection or withdrawal for
VIVIER_AFTER_PROCESS_DAYS; an ended application makes the candidate a former one (quarterly)
unless they chose a frequency.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import app
from tests import builders
from vivier.gdpr.why import explain
from vivier.imports.applications import import_applications
from vivier.pipeline.plan import application_pauses
from vivier.pipeline.resources import Resources
from vivier.pipeline.run import run_period
from vivier.rules.cadences import today_in
from vivier.store.schema import Application, Candidate, Decision, Send, utcnow


def apply(engine: sa.Engine, candidate_id: int, job: str, outcome: str, days_ago: float) -> None:
    """An application whose outcome was reached `days_ago` (as the import dates it)."""
    at = utcnow() - timedelta(days=days_ago)
    with engine.begin() as conn:
        conn.execute(sa.insert(Application), {
            "candidate_id": candidate_id, "job_ref": job, "applied_at": at - timedelta(days=20),
            "outcome": outcome, "source": "ats", "updated_at": at})


def run(resources: Resources, cadence: str) -> dict[str, int]:
    """Run the cadence now (forced: a quarter may be past its lateness limit today); counts by reason."""
    summary = run_period(resources, cadence, today_in(resources.settings.zone), force=True)
    return dict(summary.tally.reasons)


def decided(engine: sa.Engine, cadence: str) -> dict[int, tuple[str, str | None]]:
    with engine.connect() as conn:
        return {row.candidate_id: (row.reason, row.detail) for row in conn.execute(
            sa.select(Decision.candidate_id, Decision.reason, Decision.detail)
            .where(Decision.cadence == cadence))}


def sent(engine: sa.Engine, cadence: str) -> set[int]:
    with engine.connect() as conn:
        return set(conn.scalars(sa.select(Send.candidate_id).where(
            Send.cadence == cadence, Send.status == "sent")))


@pytest.mark.usefixtures("catalog")
def test_an_open_application_holds_the_candidate_in_process(engine, resources) -> None:
    held = {outcome: builders.candidate(engine) for outcome in ("applied", "screening", "interview", "offer")}
    for outcome, candidate_id in held.items():
        apply(engine, candidate_id, f"J-{outcome}", outcome, days_ago=400)  # open is open, however old
    free = builders.candidate(engine)

    assert run(resources, "weekly") == {"in_process": 4}
    decisions = decided(engine, "weekly")
    assert {cid: reason for cid, (reason, _) in decisions.items()} == dict.fromkeys(
        held.values(), "in_process")
    assert decisions[held["interview"]][1] == "job J-interview: interview (open application)"
    assert sent(engine, "weekly") == {free}


def test_a_hire_pauses_nurturing_for_months_then_the_person_is_former(engine, resources) -> None:
    hired_lately, hired_long_ago = builders.candidate(engine), builders.candidate(engine)
    apply(engine, hired_lately, "J-1", "hired", days_ago=200)
    apply(engine, hired_long_ago, "J-2", "hired", days_ago=400)  # past the 12 months

    assert run(resources, "weekly") == {}  # an ended application: no longer weekly
    assert sent(engine, "weekly") == set()
    assert run(resources, "quarterly") == {"recently_hired": 1}
    reason, detail = decided(engine, "quarterly")[hired_lately]
    assert reason == "recently_hired" and detail.startswith("job J-1: hired on ")
    assert sent(engine, "quarterly") == {hired_long_ago}


def test_both_pauses_are_settings(engine, resources) -> None:
    own = dataclasses.replace(resources, settings=resources.settings.model_copy(
        update={"hired_pause_months": 6, "after_process_days": 60}))
    hired, rejected = builders.candidate(engine), builders.candidate(engine)
    apply(engine, hired, "J-1", "hired", days_ago=200)
    apply(engine, rejected, "J-2", "rejected", days_ago=31)
    assert run(own, "quarterly") == {"in_process": 1}
    assert sent(engine, "quarterly") == {hired}


@pytest.mark.parametrize("outcome", ["rejected", "withdrawn"])
def test_a_rejection_or_withdrawal_holds_for_the_setting_s_days_then_quarterly(
    engine, resources, outcome: str
) -> None:
    lately, long_ago = builders.candidate(engine), builders.candidate(engine)
    apply(engine, lately, "J-1", outcome, days_ago=10)
    apply(engine, long_ago, "J-2", outcome, days_ago=31)  # the delay is 30 days

    assert run(resources, "quarterly") == {"in_process": 1}
    assert decided(engine, "quarterly")[lately][0] == "in_process"
    assert sent(engine, "quarterly") == {long_ago}


def test_a_chosen_frequency_stays_and_the_hold_is_recorded_in_that_cadence(engine, resources) -> None:
    weekly_by_choice = builders.candidate(engine, frequency="weekly")
    apply(engine, weekly_by_choice, "J-1", "hired", days_ago=30)
    assert run(resources, "weekly") == {"recently_hired": 1}
    assert run(resources, "quarterly") == {}  # not in the quarterly pool: they chose weekly


def test_any_open_application_holds_and_otherwise_the_latest_outcome_wins(engine, resources) -> None:
    open_and_old_hire = builders.candidate(engine)
    apply(engine, open_and_old_hire, "J-1", "hired", days_ago=800)
    apply(engine, open_and_old_hire, "J-2", "screening", days_ago=3)
    rejected_after_hire = builders.candidate(engine)  # the newer outcome decides
    apply(engine, rejected_after_hire, "J-3", "hired", days_ago=200)
    apply(engine, rejected_after_hire, "J-4", "rejected", days_ago=90)
    hired_after_rejection = builders.candidate(engine)
    apply(engine, hired_after_rejection, "J-5", "rejected", days_ago=200)
    apply(engine, hired_after_rejection, "J-6", "hired", days_ago=90)

    assert run(resources, "quarterly") == {"in_process": 1, "recently_hired": 1}
    decisions = decided(engine, "quarterly")
    assert decisions[open_and_old_hire] == ("in_process", "job J-2: screening (open application)")
    assert decisions[hired_after_rejection][1].startswith("job J-6: hired")
    assert sent(engine, "quarterly") == {rejected_after_hire}


@pytest.mark.both_dialects
def test_an_imported_hire_counts_from_the_ats_outcome_date(engine, resources, tmp_path: Path) -> None:
    people = [builders.candidate(engine) for _ in range(2)]
    with engine.connect() as conn:
        ats = dict(conn.execute(sa.select(Candidate.id, Candidate.external_id)
                                .where(Candidate.id.in_(people))).all())
    now = datetime.now(UTC)
    hires = tmp_path / "hires.jsonl"
    hires.write_text("\n".join(json.dumps({
        "external_id": ats[cid], "job": f"J-{n}", "applied_at": (now - timedelta(days=days + 30)).isoformat(),
        "outcome": "hired", "outcome_at": (now - timedelta(days=days)).isoformat()})
        for n, (cid, days) in enumerate(zip(people, (700, 60), strict=True))) + "\n", encoding="utf-8")
    assert import_applications(engine, hires).hires == 2  # both imported today

    assert run(resources, "quarterly") == {"recently_hired": 1}
    assert decided(engine, "quarterly")[people[1]][0] == "recently_hired"
    assert sent(engine, "quarterly") == {people[0]}


def test_why_names_the_application_that_holds_the_candidate(engine, resources, settings) -> None:
    candidate_id = builders.candidate(engine)
    apply(engine, candidate_id, "REQ-2291", "offer", days_ago=2)
    run(resources, "weekly")
    with engine.connect() as conn:
        story = explain(conn, candidate_id, resources.segments, resources.settings.retention_months,
                        pauses=application_pauses(resources.settings))
    assert story.holding == {"reason": "in_process", "job": "REQ-2291", "outcome": "offer",
                             "since": story.holding["since"], "until": None}
    [period] = story.periods
    assert (period.outcome, period.detail) == ("in_process", "job REQ-2291: offer (open application)")
    assert story.cadence == "weekly"
    result = CliRunner().invoke(app, ["why", str(candidate_id)])
    assert result.exit_code == 0, result.output
    assert "held now: in_process by the application to job REQ-2291 (offer" in result.output
    as_json = json.loads(CliRunner().invoke(app, ["why", str(candidate_id), "--json"]).output)
    assert as_json["holding"]["job"] == "REQ-2291"
    assert as_json["periods"][0]["detail"] == "job REQ-2291: offer (open application)"
