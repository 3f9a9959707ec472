"""A whole run without Prefect, and flows, on a test's own resources (nothing read from VIVIER_*)."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from flows.nurture import nurture
from tests import builders
from vivier.pipeline.resources import current
from vivier.pipeline.run import RunStopped, run_period
from vivier.rules.cadences import today_in
from vivier.store.schema import Decision, Run, Send


@pytest.mark.usefixtures("catalog")
def test_run_period_plans_gates_delivers_and_records_the_summary(engine, resources) -> None:
    assert not any(name.startswith("VIVIER_") for name in os.environ)  # nothing to patch
    sent_to = [builders.candidate(engine) for _ in range(3)]
    withdrawn = builders.candidate(engine, consent="withdrawn")
    summary = run_period(resources, "weekly", today_in(resources.settings.zone))
    assert (summary.outcome, summary.tally.stages["sent"]) == ("completed", 3)
    assert resources.transport.count == 3  # type: ignore[attr-defined]  # the none transport counts
    with engine.connect() as conn:
        assert sorted(conn.scalars(sa.select(Send.candidate_id).where(Send.status == "sent"))) == sent_to
        assert conn.execute(sa.select(Decision.candidate_id, Decision.reason)).all() == [
            (withdrawn, "consent_withdrawn")]
        assert conn.execute(sa.select(Run.state, Run.summary)).one().summary["stages"]["sent"] == 3


def test_run_period_stops_before_sending_when_the_data_is_broken(engine, resources) -> None:
    for n in range(4):
        builders.candidate(engine, email=f"broken-{n}-at-example.org")
    with pytest.raises(Exception, match="data quality gate"):
        run_period(resources, "weekly", today_in(resources.settings.zone))
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Send)) == 0
        assert conn.execute(sa.select(Run.state)).scalar_one() == "failed"
    assert issubclass(RunStopped, RuntimeError)


@pytest.mark.usefixtures("catalog")
@pytest.mark.usefixtures("prefect_harness")
def test_a_flow_run_in_this_process_uses_the_installed_resources(engine, resources) -> None:
    builders.candidate(engine)
    assert current() is resources
    summary = nurture(cadence="weekly", as_of=today_in(resources.settings.zone))
    assert summary["stages"]["sent"] == 1 and resources.transport.count == 1  # type: ignore[attr-defined]


def test_a_segment_that_takes_nobody_is_noted_in_the_summary(engine, resources) -> None:
    builders.candidate(engine, expertise="Data", search_location="Lyon")  # only `default` fits
    summary = run_period(resources, "weekly", today_in(resources.settings.zone))
    assert summary.outcome == "completed"
    idle = [note for note in summary.notes if note.startswith("**Segments:**")]
    assert idle and "`hr-canada`" in idle[0] and "vivier segments check" in idle[0]
    assert "`default`" not in idle[0]


def test_the_run_tells_how_many_messages_carried_openings_and_content(engine, resources) -> None:
    from datetime import UTC, datetime

    from vivier.messages.shown import carried

    builders.openings(engine, datetime.now(UTC))  # Lyon data openings in French, and a tip
    builders.candidate(engine)  # French, Lyon, data: both fit
    builders.candidate(engine, locale="en")  # English: no French opening, the tip is French too
    summary = run_period(resources, "weekly", today_in(resources.settings.zone))
    with engine.connect() as conn:
        assert carried(conn, summary.run_id) == {"openings": 1, "content": 1}
    assert summary.tally.stages["sent"] + summary.tally.reasons["nothing_new"] == 2
