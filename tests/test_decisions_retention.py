"""Decisions are kept VIVIER_DECISIONS_KEEP_MONTHS; the runs keep their counts for ever."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests import builders
from vivier.gdpr.retention import months_before
from vivier.pipeline import decisions
from vivier.pipeline.run import run_period
from vivier.settings import Settings
from vivier.store.schema import Decision, Run


def test_decisions_past_their_keeping_time_go_and_the_runs_keep_their_counts(engine, resources) -> None:
    for _ in range(3):
        builders.candidate(engine, consent="withdrawn")
    summary = run_period(resources, "weekly", datetime.now(UTC).date() - timedelta(days=7), force=True)
    assert summary.tally.reasons["consent_withdrawn"] == 3
    with engine.begin() as conn:  # that run was long ago: its decisions too
        conn.execute(sa.update(Decision).values(decided_at=datetime(2024, 1, 8, tzinfo=UTC)))
        old = set(conn.scalars(sa.select(Decision.id)))
    builders.candidate(engine, consent="denied")
    run_period(resources, "weekly", datetime.now(UTC).date())
    keep = Settings().decisions_keep_months
    assert decisions.prune(engine, months_before(datetime.now(UTC), keep), batch=2) == 3
    with engine.connect() as conn:
        left = conn.execute(sa.select(Decision.id, Decision.reason)).all()
        counts = [row.summary["reasons"] for row in conn.execute(sa.select(Run.summary).order_by(Run.id))]
    assert old.isdisjoint(row.id for row in left)
    assert sorted(row.reason for row in left) == ["consent_denied", *["consent_withdrawn"] * 3]
    assert counts[0]["consent_withdrawn"] == 3  # the old run's counts stay
    assert decisions.prune(engine, months_before(datetime.now(UTC), keep)) == 0  # idempotent


@pytest.mark.usefixtures("prefect_harness")
def test_the_retention_flow_prunes_old_decisions(engine, settings) -> None:
    from flows.retention import retention
    from vivier.pipeline.resources import current

    builders.candidate(engine, consent="withdrawn")
    run_period(current(), "weekly", datetime.now(UTC).date())  # its decision, then made old
    with engine.begin() as conn:
        conn.execute(sa.update(Decision).values(decided_at=datetime(2020, 1, 6, tzinfo=UTC)))
    assert retention(dry_run=True)["decisions_pruned"] == 0
    assert retention()["decisions_pruned"] == 1
    assert decisions.oldest(engine) is None
