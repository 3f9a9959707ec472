"""The report's figures against a small history worked out by hand (tests/report/hand_history.py)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.report import hand_history
from tests.report.hand_history import NOW
from vivier.report import Counts, ReportFilters, build_report

pytestmark = pytest.mark.both_dialects  # the report's SQL aggregates, per dialect

PARIS = ZoneInfo("Europe/Paris")


def figures(engine: sa.Engine, **filters: object):
    return build_report(engine, ReportFilters(**filters), 30, PARIS, now=NOW)  # type: ignore[arg-type]


@pytest.fixture
def history(engine: sa.Engine) -> dict[str, int]:
    return hand_history.write(engine)


def test_each_message_counts_once_per_event_kind_and_applications_only_within_30_days(
    engine, history
) -> None:
    report = figures(engine)
    weekly = next(row for row in report.rows if row.cadence == "weekly")
    assert (weekly.segment, weekly.period_key, weekly.window_open) == ("tech", "2026-W10", False)
    assert weekly.counts == Counts(
        eligible=7 + 3,  # c1–c7 have a ledger row (c7 failed); h1–h3 held out (h4 only in a dry run)
        sent=6, delivered=4, hard_bounced=1, complained=1,
        unsubscribed=1,  # c6 via the preference centre 2 days after; c2's, 40 days after, is nobody's
        opened=1, clicked=2, replied=1,
        applied=3,  # c1 (day 10), c2 (a minute before day 30), c5; not c3 (day 31) nor c4 (before)
        hired=1,
        holdout=3, holdout_replied=1,
        holdout_applied=1,  # h2; h1 applied on day 31 after their FIRST holdout decision
        holdout_hired=0,
        compared_sent=6, compared_replied=1, compared_applied=3,
    )


def test_rates_are_over_messages_sent_and_uplift_is_in_points_with_both_group_sizes(
    engine, history
) -> None:
    counts = figures(engine, cadence="weekly").rows[0].counts
    assert counts.over_sent(counts.delivered) == pytest.approx(4 / 6)
    assert counts.over_sent(counts.hard_bounced) == pytest.approx(1 / 6)
    assert counts.over_sent(counts.clicked) == pytest.approx(2 / 6)
    uplift = counts.apply_uplift
    assert (uplift.messaged, uplift.held_out) == (6, 3)
    assert uplift.messaged_rate == pytest.approx(3 / 6)
    assert uplift.holdout_rate == pytest.approx(1 / 3)
    assert uplift.points == pytest.approx(100 * (3 / 6 - 1 / 3))  # +16.7 pp
    assert uplift.small and uplift.label().startswith("+16.7 pp ± ")
    assert counts.reply_uplift.points == pytest.approx(100 * (1 / 6 - 1 / 3))  # −16.7 pp


def test_totals_compare_with_the_holdout_only_where_there_was_one(engine, history) -> None:
    report = figures(engine)
    assert report.total.sent == 7 and report.total.eligible == 11
    monthly = next(row for row in report.rows if row.cadence == "monthly")
    assert monthly.segment == "default"  # a ledger row without a segment
    assert monthly.counts.apply_uplift.points is None
    assert report.total.apply_uplift.messaged == 6  # the monthly message had no holdout to compare
    assert report.total.apply_uplift.points == pytest.approx(100 * (3 / 6 - 1 / 3))


def test_trend_per_cadence_and_funnel_per_segment(engine, history) -> None:
    report = figures(engine)
    assert [(p.cadence, p.period_key, p.counts.sent) for p in report.trend] == [
        ("weekly", "2026-W10", 6), ("monthly", "2026-02", 1)]
    tech = next(funnel for funnel in report.funnels if funnel.segment == "tech")
    assert [(step.label, step.count) for step in tech.steps] == [
        ("eligible", 10), ("sent", 6), ("delivered", 4), ("clicked", 2), ("replied", 1),
        ("applied", 3), ("hired", 1)]
    assert tech.steps[1].share == pytest.approx(0.6)


@pytest.mark.parametrize(("filters", "expected"), [
    ({"cadence": "monthly"}, [("monthly", "default", "2026-02")]),
    ({"segment": "tech"}, [("weekly", "tech", "2026-W10")]),
    ({"segment": "default"}, [("monthly", "default", "2026-02")]),
    ({"since": date(2026, 3, 1)}, [("weekly", "tech", "2026-W10")]),
    ({"until": date(2026, 2, 28)}, [("monthly", "default", "2026-02")]),
    ({"since": date(2026, 3, 4), "until": date(2026, 3, 31)}, []),
])
def test_filters_select_cadence_segment_and_days(engine, history, filters, expected) -> None:
    report = figures(engine, **filters)
    assert [(row.cadence, row.segment, row.period_key) for row in report.rows] == expected
    assert report.empty == (not expected)


def test_the_day_filter_keeps_the_holdout_of_the_same_days(engine, history) -> None:
    # The weekly messages and holdout decisions are on 2 March (Paris): that day alone keeps them all.
    counts = figures(engine, since=date(2026, 3, 2), until=date(2026, 3, 2)).rows[0].counts
    assert (counts.sent, counts.holdout) == (6, 3)


def test_a_period_whose_messages_are_younger_than_the_window_is_marked_open(engine, history) -> None:
    from datetime import timedelta

    report = build_report(engine, ReportFilters(), 30, PARIS,
                          now=hand_history.T0 + timedelta(days=10))
    assert [row.window_open for row in report.rows] == [True, False]
