"""Backfills, catch-up after an outage, status and in-doubt resolution: what ops teams rely on."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import app
from flows.backfill import backfill
from flows.nurture import nurture
from tests import builders
from vivier.ledger.status import period_status, resolve_in_doubt
from vivier.pipeline.backfill import plan_backfill
from vivier.rules.cadences import PeriodTooLate, period_key, period_start, today_in
from vivier.store.schema import Candidate, Interaction, Run, Send

pytestmark = pytest.mark.usefixtures("prefect_harness", "catalog")


def sent_per_period(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Send.period_key, sa.func.count())
                            .where(Send.status == "sent").group_by(Send.period_key))
        return dict(rows.all())


def test_backfill_runs_only_missing_periods_and_a_rerun_sends_nothing(engine, settings,
                                                                      monkeypatch) -> None:
    monkeypatch.setenv("VIVIER_CONTACT_GAP_DAYS", "0")  # every missed week may reach everyone
    from vivier.settings import get_settings
    get_settings.cache_clear()
    for _ in range(3):
        builders.candidate(engine)
    today = today_in(settings.zone)
    monday = period_start("weekly", period_key("weekly", today))
    since, until = monday - timedelta(weeks=8), monday - timedelta(days=1)
    weeks = [period_key("weekly", since + timedelta(weeks=n)) for n in range(8)]
    for week in (weeks[1], weeks[4], weeks[6]):  # three weeks went out on time
        nurture(cadence="weekly", as_of=period_start("weekly", week), force=True)

    outcome = backfill(cadence="weekly", since=since, until=until, force=True)

    assert [row["period"] for row in outcome] == weeks
    ran = [row["period"] for row in outcome if row["action"] == "run"]
    assert ran == [w for w in weeks if w not in (weeks[1], weeks[4], weeks[6])]
    assert sent_per_period(engine) == {week: 3 for week in weeks}
    with engine.connect() as conn:
        names = set(conn.execute(sa.select(Run.period_key).where(Run.state == "completed")).scalars())
    assert names == set(weeks)

    again = backfill(cadence="weekly", since=since, until=until, force=True)
    assert {row["action"] for row in again} == {"skip"}
    assert sent_per_period(engine) == {week: 3 for week in weeks}


def test_backfill_refuses_late_periods_unless_forced(engine, settings) -> None:
    builders.candidate(engine)  # someone to message: every period of the range owes something
    today = today_in(settings.zone)
    steps = plan_backfill(engine, "weekly", today - timedelta(days=21), today, today, 6, force=False)
    assert steps[-1].action == "run"  # this week is on time
    assert all(step.action == "refuse" and "past the 6-day limit" in step.reason
               for step in steps[:-1])
    forced = plan_backfill(engine, "weekly", today - timedelta(days=21), today, today, 6, force=True)
    assert {step.action for step in forced} == {"run"}
    with pytest.raises(ValueError, match="in the future"):
        plan_backfill(engine, "weekly", today, today + timedelta(days=8), today, 6, force=False)


def test_catch_up_after_a_two_week_outage_sends_only_what_is_still_timely(engine, settings) -> None:
    """The worker was down two weeks: Prefect hands it the late runs with their scheduled times."""
    from datetime import datetime, time

    from prefect import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import Scheduled

    builders.candidate(engine)
    today = today_in(settings.zone)
    this_monday = period_start("weekly", period_key("weekly", today))
    outcomes = {}
    for weeks_ago in (2, 1, 0):
        scheduled = datetime.combine(this_monday - timedelta(weeks=weeks_ago), time(9), settings.zone)
        with get_client(sync_client=True) as client:
            late_run = client.create_flow_run(nurture, parameters={"cadence": "weekly"},
                                              state=Scheduled(scheduled_time=scheduled))
        # The flow runs on Prefect's async engine (flows/threaded.py): as a worker does, run it.
        state = asyncio.run(run_flow(nurture, flow_run=late_run, parameters={"cadence": "weekly"},
                                     return_type="state"))
        key = period_key("weekly", scheduled.date())
        if state.is_completed():
            outcomes[key] = state.result()["stages"]["sent"]
        else:
            with pytest.raises(PeriodTooLate, match="lateness limit"):
                state.result()
            outcomes[key] = "refused"
    assert list(outcomes.values()) == ["refused", "refused", 1]


def test_status_shows_the_ledger_reasons_in_doubt_and_runs(engine, settings) -> None:
    today = today_in(settings.zone)
    ids = [builders.candidate(engine) for _ in range(3)]
    builders.candidate(engine, consent="withdrawn")
    summary = nurture(cadence="weekly", as_of=today)
    with engine.begin() as conn:
        conn.execute(sa.update(Send).where(Send.candidate_id == ids[0]).values(status="in_doubt"))
    found = period_status(engine, "weekly", summary["period_key"])
    assert found.ledger == {"sent": 2, "in_doubt": 1}
    assert found.reasons == {"consent_withdrawn": 1}
    assert found.in_doubt == [ids[0]]
    assert [run["flow_run_id"] for run in found.runs] == [summary["flow_run_id"]]

    result = CliRunner().invoke(app, ["status", "weekly", "--period", summary["period_key"]])
    assert result.exit_code == 0, result.output
    assert "in_doubt" in result.output and str(ids[0]) in result.output
    bad = CliRunner().invoke(app, ["status", "weekly", "--period", "2026-48"])
    assert bad.exit_code == 2 and "expected e.g. 2026-W48" in bad.output


def test_in_doubt_is_resolved_only_by_an_audited_operator_action(engine, settings) -> None:
    today = today_in(settings.zone)
    first, second = builders.candidate(engine), builders.candidate(engine)
    summary = nurture(cadence="weekly", as_of=today)
    key = summary["period_key"]
    with engine.begin() as conn:  # as a crash leaves them: handed over, never recorded
        conn.execute(sa.update(Send).values(status="in_doubt", sent_at=None))
        conn.execute(sa.update(Candidate).values(last_contacted_at=None))
    rerun = nurture(cadence="weekly", as_of=today)
    assert rerun["reasons"] == {"in_doubt": 2}  # never resent silently

    assert resolve_in_doubt(engine, "weekly", key, "mark_sent", [first]) == [first]
    assert resolve_in_doubt(engine, "weekly", key, "resend") == [second]
    resent = nurture(cadence="weekly", as_of=today)
    assert resent["stages"]["sent"] == 1
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.select(Send.candidate_id, Send.status)).all())
        audit = conn.execute(sa.select(Interaction.candidate_id, Interaction.kind, Interaction.details)
                             .where(Interaction.kind.like("in_doubt_%"))).all()
    assert statuses == {first: "sent", second: "sent"}
    assert {(row.candidate_id, row.kind) for row in audit} == {
        (first, "in_doubt_mark_sent"), (second, "in_doubt_resend")}
    assert all(row.details["operator"] for row in audit)


def test_in_doubt_cli_takes_at_most_one_action(settings) -> None:
    result = CliRunner().invoke(app, ["in-doubt", "weekly", "--period", "2026-W48", "--mark-sent",
                                      "--resend", "--candidate", "1"])
    assert result.exit_code == 2 and "at most one" in result.output


def test_a_released_send_whose_candidate_then_withdraws_is_withdrawn_from_the_plan(engine,
                                                                                  settings) -> None:
    today = today_in(settings.zone)
    person = builders.candidate(engine)
    key = nurture(cadence="weekly", as_of=today)["period_key"]
    with engine.begin() as conn:
        conn.execute(sa.update(Send).values(status="in_doubt", sent_at=None))
        conn.execute(sa.update(Candidate).values(last_contacted_at=None))
    resolve_in_doubt(engine, "weekly", key, "resend")
    from datetime import UTC, datetime
    builders.consent_event(engine, person, "withdrawn", datetime.now(UTC))
    rerun = nurture(cadence="weekly", as_of=today)
    assert rerun["reasons"] == {"consent_withdrawn": 1} and rerun["stages"].get("sent", 0) == 0
    with engine.connect() as conn:
        row = conn.execute(sa.select(Send.status, Send.run_id)).one()
    assert (row.status, row.run_id) == ("pending", None)  # kept for the audit trail, never delivered


def test_a_date_option_that_is_not_a_date_exits_2_naming_the_option(settings) -> None:
    from typer.testing import CliRunner

    from app.cli import app

    for argv in (["backfill", "weekly", "--since", "1 Nov", "--until", "2026-11-20"],
                 ["report", "--until", "soon"]):
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 2
        assert "is not a date: use YYYY-MM-DD" in result.output
        assert argv[argv.index("--since" if "--since" in argv else "--until")] in result.output


def test_a_complete_period_with_new_eligible_candidates_or_failed_rows_is_run_again(engine, settings,
                                                                                   monkeypatch) -> None:
    """Completeness comes from the ledger, not from whether an earlier run said `completed`."""
    monkeypatch.setenv("VIVIER_CONTACT_GAP_DAYS", "0")
    from vivier.settings import get_settings
    get_settings.cache_clear()
    early = [builders.candidate(engine) for _ in range(2)]
    builders.candidate(engine, frequency="none")  # kept, never messaged: never makes a period owe
    today = today_in(settings.zone)
    week = period_key("weekly", today)
    first = nurture(cadence="weekly", as_of=today)
    assert first["stages"]["sent"] == 2
    assert [step.action for step in plan_backfill(engine, "weekly", today, today, today, 6, False)] \
        == ["skip"]

    late = builders.candidate(engine)  # imported after the period's run completed
    (step,) = plan_backfill(engine, "weekly", today, today, today, 6, False)
    assert (step.action, step.reason) == ("run", "1 candidate(s) not yet considered")
    outcome = backfill(cadence="weekly", since=today, until=today)
    assert [(row["action"], row["sent"]) for row in outcome] == [("run", 1)]
    with engine.connect() as conn:
        sent = dict(conn.execute(sa.select(Send.candidate_id, Send.status)
                                 .where(Send.period_key == week)).all())
    assert sent == {early[0]: "sent", early[1]: "sent", late: "sent"}  # each once

    with engine.begin() as conn:  # a message the server refused in that run
        conn.execute(sa.update(Send).where(Send.candidate_id == early[0]).values(status="failed"))
    (step,) = plan_backfill(engine, "weekly", today, today, today, 6, False)
    assert (step.action, step.reason) == ("run", "1 pending or failed message(s)")


def test_a_backfill_with_refused_periods_fails_listing_them_unless_told_to_skip(engine, settings) -> None:
    builders.candidate(engine)
    today = today_in(settings.zone)
    old = period_start("weekly", period_key("weekly", today)) - timedelta(weeks=3)
    refused = period_key("weekly", old)
    with pytest.raises(RuntimeError, match=rf"refused, past the weekly lateness limit: {refused}.*force"):
        backfill(cadence="weekly", since=old, until=today)
    assert sent_per_period(engine).get(period_key("weekly", today)) == 1  # the timely one still ran

    skipped = backfill(cadence="weekly", since=old, until=today, skip_refused=True)
    assert [row["action"] for row in skipped if row["period"] == refused] == ["refuse"]
    assert refused not in sent_per_period(engine)


def test_backfill_child_runs_carry_the_vivier_and_cadence_tags(engine, settings) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    builders.candidate(engine)
    today = today_in(settings.zone)
    backfill(cadence="weekly", since=today, until=today)
    name = f"backfill-weekly-{period_key('weekly', today)}"
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
    assert runs and all({"vivier", "backfill", "weekly"} <= set(run.tags) for run in runs)


def test_the_backfill_verb_exits_1_listing_refused_periods_unless_skip_refused(engine, settings) -> None:
    builders.candidate(engine)
    today = today_in(settings.zone)
    old = period_start("weekly", period_key("weekly", today)) - timedelta(weeks=3)
    argv = ["backfill", "weekly", "--since", old.isoformat(), "--until", today.isoformat()]
    refused = CliRunner().invoke(app, argv)
    assert refused.exit_code == 1, refused.output
    assert period_key("weekly", old) in refused.output and "--skip-refused" in refused.output
    accepted = CliRunner().invoke(app, [*argv, "--skip-refused"])
    assert accepted.exit_code == 0, accepted.output
