"""A feed outage must not bring back empty messages: an empty catalog sends nothing new, and the
run says why; feeds with nothing recent are noted."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa

from tests import builders
from vivier.pipeline.run import run_period
from vivier.rules.cadences import today_in
from vivier.store.schema import Content, Job


def test_an_empty_catalog_sends_no_weekly_or_monthly_message_and_the_run_says_why(
    engine, resources
) -> None:
    today = today_in(resources.settings.zone)
    active, passive = builders.candidate(engine), builders.candidate(engine, status="passive")
    for cadence in ("weekly", "monthly"):
        summary = run_period(resources, cadence, today, force=True)
        assert summary.tally.stages["planned"] == 0 and summary.tally.reasons["nothing_new"] == 1
        (note,) = [n for n in summary.notes if "No openings and no content" in n]
        assert "nothing_new" in note and "vivier import jobs|content" in note
        assert f"vivier run {cadence} --as-of {today}" in note
    assert active and passive


def test_the_quarterly_check_in_still_goes_with_an_empty_catalog(engine, resources) -> None:
    builders.candidate(engine, status="former")
    summary = run_period(resources, "quarterly", today_in(resources.settings.zone), force=True)
    assert summary.tally.stages["sent"] == 1
    assert any("No openings and no content" in note for note in summary.notes)


def test_feeds_with_nothing_recent_are_noted_and_fresh_ones_are_not(engine, resources) -> None:
    today = today_in(resources.settings.zone)
    old = datetime.combine(today - timedelta(days=20), time(9), UTC)
    with engine.begin() as conn:
        conn.execute(sa.insert(Job), {
            "external_id": "OLD", "title": "Data engineer", "company": "Acme", "location": "Lyon",
            "expertise": "Data", "url": "https://jobs.example.org/old", "locale": "fr",
            "languages": ["fr"], "published_at": old})
        conn.execute(sa.insert(Content), {
            "kind": "tip", "locale": "fr", "title": "Conseil", "url": "https://blog.example.org/tip",
            "published_at": old})
    builders.candidate(engine)
    stale = run_period(resources, "weekly", today)
    assert stale.tally.stages["sent"] == 1  # what is there is new to them: it goes
    (note,) = [n for n in stale.notes if "Feeds look stale" in n]
    assert f"openings (newest published {old:%Y-%m-%d})" in note and "content" in note

    builders.weekly_content(engine, weeks=2)  # the content feed is alive again
    builders.candidate(engine, status="passive")
    fresh = run_period(resources, "monthly", today, force=True)
    (note,) = [n for n in fresh.notes if "Feeds look stale" in n]
    assert "openings" in note and "content (" not in note
