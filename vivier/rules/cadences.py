"""The three cadences as data, and the period keys they run on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class CadenceName(StrEnum):
    weekly = "weekly"
    monthly = "monthly"
    quarterly = "quarterly"


@dataclass(frozen=True)
class Cadence:
    """One nurturing rhythm: who gets it by default and how its periods are keyed."""

    name: str
    default_status: str
    audience: str
    period_kind: str  # "isoweek" | "month" | "quarter"


CADENCES: dict[str, Cadence] = {
    "weekly": Cadence("weekly", "active", "active candidates", "isoweek"),
    "monthly": Cadence("monthly", "passive", "passive talent", "month"),
    "quarterly": Cadence("quarterly", "former", "former candidates", "quarter"),
}
STATUS_CADENCE = {cadence.default_status: cadence.name for cadence in CADENCES.values()}


class UnknownCadence(ValueError):
    """A cadence name that is not weekly, monthly or quarterly."""


class PeriodTooLate(ValueError):
    """The period started longer ago than its lateness limit allows."""


def cadence(name: str) -> Cadence:
    try:
        return CADENCES[name]
    except KeyError:
        raise UnknownCadence(
            f"unknown cadence {name!r}: use one of {', '.join(CADENCES)}"
        ) from None


def period_key(name: str, day: date) -> str:
    """`2026-W48`, `2026-11` or `2026-Q4` for the period that contains `day`."""
    kind = cadence(name).period_kind
    if kind == "isoweek":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if kind == "month":
        return f"{day.year}-{day.month:02d}"
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def period_start(name: str, key: str) -> date:
    """The first day of the period `key` (raises ValueError for a malformed key)."""
    kind = cadence(name).period_kind
    try:
        if kind == "isoweek":
            year, week = key.split("-W")
            return date.fromisocalendar(int(year), int(week), 1)
        if kind == "month":
            year, month = key.split("-")
            return date(int(year), int(month), 1)
        year, quarter = key.split("-Q")
        if not 1 <= int(quarter) <= 4:
            raise ValueError(quarter)
        return date(int(year), 3 * (int(quarter) - 1) + 1, 1)
    except ValueError:
        example = period_key(name, date(2026, 11, 25))
        raise ValueError(f"malformed {name} period key {key!r} (expected e.g. {example})") from None


def next_period_start(name: str, key: str) -> date:
    start = period_start(name, key)
    kind = cadence(name).period_kind
    if kind == "isoweek":
        return start + timedelta(days=7)
    months = 1 if kind == "month" else 3
    month_index = start.month - 1 + months
    return date(start.year + month_index // 12, month_index % 12 + 1, 1)


def periods_between(name: str, since: date, until: date) -> list[str]:
    """Every period key touched by the days since..until, oldest first."""
    keys: list[str] = []
    key = period_key(name, since)
    while period_start(name, key) <= until:
        keys.append(key)
        key = period_key(name, next_period_start(name, key))
    return keys


def today_in(zone: ZoneInfo, moment: datetime | None = None) -> date:
    """The team's calendar date now (or at `moment`)."""
    return (moment or datetime.now(zone)).astimezone(zone).date()


def check_lateness(name: str, key: str, today: date, lateness_days: int, force: bool) -> int:
    """Days since the period started; refuses a period past its limit unless forced."""
    late_by = (today - period_start(name, key)).days
    if late_by > lateness_days and not force:
        raise PeriodTooLate(
            f"{name} period {key} started {late_by} days ago, past its {lateness_days}-day "
            f"lateness limit: candidates would get an out-of-date message. Rerun with "
            f"--force (flow parameter force=true) if you really want to send it."
        )
    return late_by
