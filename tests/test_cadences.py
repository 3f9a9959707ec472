"""Period keys and lateness: the calendar the cadences run on."""

from __future__ import annotations

from datetime import date

import pytest

from vivier.rules.cadences import (
    PeriodTooLate,
    UnknownCadence,
    check_lateness,
    next_period_start,
    period_key,
    period_start,
    periods_between,
)


@pytest.mark.parametrize(("cadence", "day", "key"), [
    ("weekly", date(2026, 11, 25), "2026-W48"),
    ("weekly", date(2027, 1, 1), "2026-W53"),  # ISO year, not calendar year
    ("monthly", date(2026, 11, 25), "2026-11"),
    ("quarterly", date(2026, 11, 25), "2026-Q4"),
    ("quarterly", date(2026, 1, 1), "2026-Q1"),
])
def test_period_keys_follow_iso_weeks_months_and_quarters(cadence: str, day: date, key: str) -> None:
    assert period_key(cadence, day) == key
    assert period_key(cadence, period_start(cadence, key)) == key


def test_period_start_and_next() -> None:
    assert period_start("weekly", "2026-W48") == date(2026, 11, 23)
    assert next_period_start("quarterly", "2026-Q4") == date(2027, 1, 1)
    assert next_period_start("monthly", "2026-12") == date(2027, 1, 1)


def test_periods_between_lists_each_period_once_oldest_first() -> None:
    assert periods_between("weekly", date(2026, 10, 1), date(2026, 10, 20)) == [
        "2026-W40", "2026-W41", "2026-W42", "2026-W43"]
    assert periods_between("quarterly", date(2026, 2, 1), date(2026, 7, 1)) == [
        "2026-Q1", "2026-Q2", "2026-Q3"]


def test_malformed_key_and_unknown_cadence_are_explained() -> None:
    with pytest.raises(ValueError, match="expected e.g. 2026-W48"):
        period_start("weekly", "2026-48")
    with pytest.raises(UnknownCadence, match="weekly, monthly, quarterly"):
        period_key("daily", date(2026, 1, 1))


def test_a_period_past_its_lateness_limit_is_refused_unless_forced() -> None:
    assert check_lateness("weekly", "2026-W48", date(2026, 11, 29), 6, force=False) == 6
    with pytest.raises(PeriodTooLate, match="7 days ago, past its 6-day lateness limit"):
        check_lateness("weekly", "2026-W48", date(2026, 11, 30), 6, force=False)
    assert check_lateness("weekly", "2026-W48", date(2026, 11, 30), 6, force=True) == 7
