"""What a send showed is recorded; an opening is never shown twice; nothing new, nothing sent."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from tests import builders
from vivier.pipeline.run import run_period
from vivier.rules.cadences import today_in
from vivier.rules.segments import Segment, SegmentFilter, Segments
from vivier.store.schema import Candidate, Decision, Send, SendItem

LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)


_job = builders.job


def _a_week_passes(engine: sa.Engine) -> None:
    """The contact gap is over: last week's message was last week."""
    with engine.begin() as conn:
        conn.execute(sa.update(Candidate).values(last_contacted_at=LONG_AGO))


def _shown_jobs(engine: sa.Engine, candidate_id: int, cadence: str, period_key: str) -> set[int]:
    with engine.connect() as conn:
        return set(conn.scalars(
            sa.select(SendItem.item_id).join(Send, Send.id == SendItem.send_id)
            .where(Send.candidate_id == candidate_id, Send.cadence == cadence,
                   Send.period_key == period_key, SendItem.kind == "job")))


def _reasons(engine: sa.Engine) -> list[tuple[int, str, str]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(
            sa.select(Decision.candidate_id, Decision.period_key, Decision.reason))]


@pytest.mark.both_dialects
def test_an_opening_is_never_shown_twice_to_the_same_candidate_across_periods(engine, resources) -> None:
    today = today_in(resources.settings.zone)
    last_week = today - timedelta(days=7)
    # Older than the privileged pool's head start (7 days) on last week's run: everyone sees them.
    published = datetime.combine(last_week - timedelta(days=9), time(9), UTC)
    old = {_job(engine, "OLD-1", published), _job(engine, "OLD-2", published)}
    person = builders.candidate(engine)

    first = run_period(resources, "weekly", last_week, force=True)
    assert first.tally.stages["sent"] == 1
    assert _shown_jobs(engine, person, "weekly", first.period_key) == old

    # Too young for last week's run, old enough for this week's.
    fresh = _job(engine, "NEW-1", datetime.combine(last_week - timedelta(days=2), time(9), UTC))
    _a_week_passes(engine)
    second = run_period(resources, "weekly", today)
    assert second.tally.stages["sent"] == 1
    assert _shown_jobs(engine, person, "weekly", second.period_key) == {fresh}


@pytest.mark.both_dialects
def test_a_message_with_nothing_new_is_not_sent_and_says_why(engine, resources) -> None:
    today = today_in(resources.settings.zone)
    last_week = today - timedelta(days=7)
    _job(engine, "ONLY", datetime.combine(last_week - timedelta(days=9), time(9), UTC))
    person = builders.candidate(engine)
    run_period(resources, "weekly", last_week, force=True)
    _a_week_passes(engine)

    again = run_period(resources, "weekly", today)
    assert again.tally.stages["planned"] == 0 and again.tally.reasons["nothing_new"] == 1
    assert (person, again.period_key, "nothing_new") in _reasons(engine)
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Send)
                           .where(Send.period_key == again.period_key)) == 0


def test_a_candidate_with_no_fitting_opening_is_not_messaged(engine, resources) -> None:
    today = today_in(resources.settings.zone)
    _job(engine, "FR", datetime.combine(today - timedelta(days=1), time(9), UTC))
    english = builders.candidate(engine, locale="en")  # the one opening is in French
    summary = run_period(resources, "weekly", today)
    assert summary.tally.stages["planned"] == 0
    assert (english, summary.period_key, "nothing_new") in _reasons(engine)


def test_the_quarterly_check_in_goes_even_with_nothing_new(engine, resources) -> None:
    today = today_in(resources.settings.zone)
    _job(engine, "FR", datetime.combine(today - timedelta(days=1), time(9), UTC))
    builders.candidate(engine, locale="en", status="former")  # nothing fits them
    summary = run_period(resources, "quarterly", today, force=True)
    assert summary.tally.stages["sent"] == 1 and summary.tally.reasons["nothing_new"] == 0


def test_a_segment_with_send_when_empty_is_messaged_with_nothing_new(engine, resources) -> None:
    today = today_in(resources.settings.zone)
    _job(engine, "FR", datetime.combine(today - timedelta(days=1), time(9), UTC))
    builders.candidate(engine, locale="en", expertise="Finance")
    builders.candidate(engine, locale="en", expertise="Data")
    resources.segments = Segments([
        Segment(name="check-in", match=SegmentFilter(expertise=["Finance"]), send_when_empty=True)])
    summary = run_period(resources, "weekly", today)
    assert summary.tally.stages["sent"] == 1 and summary.tally.reasons["nothing_new"] == 1
