"""When a message may leave: a send window in the candidate's own day, and the period's last moment.

A window is weekdays and local hours (`mon-fri 09:00-11:30`, the default) or `always`. A
message's `not_before` is the opening of the first window that has not closed when the run plans:
planned during a window, it leaves at once; otherwise at the next opening, skipping days off
and the public holidays of the candidate's country (and province or nation); 1 January is
never a send day, whatever the calendar says. The times are the candidate's wall clock, so
daylight saving time changes on either side of the ocean move the UTC instant, not the hour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from vivier.rules.zones import CandidateZone

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_WINDOW = "mon-fri 09:00-11:30"
ALWAYS = "always"
MAX_DAYS_AHEAD = 60  # the longest run of days off (holidays and weekends) a calendar could hold
_WINDOW = re.compile(r"^\s*(?P<days>[a-z,\-]+)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")


class WindowProblem(ValueError):
    """A send window setting that cannot be read."""


@dataclass(frozen=True)
class SendWindow:
    """Weekdays (0 = Monday) and local minutes since midnight [start, end); or no window at all."""

    days: frozenset[int] = frozenset(range(7))
    start: int = 0
    end: int = 24 * 60
    always: bool = False

    @classmethod
    def parse(cls, text: str) -> SendWindow:
        """`mon-fri 09:00-11:30`, `mon,wed,fri 10:00-12:00`, `sat-sun 10:00-24:00` or `always`."""
        if text.strip().lower() == ALWAYS:
            return cls(always=True)
        found = _WINDOW.match(text.lower())
        if not found:
            raise WindowProblem(f"{text!r} is not a send window: write days and local hours, "
                                f"e.g. {DEFAULT_WINDOW!r}, or {ALWAYS!r}")
        start, end = _minutes(found["start"], text), _minutes(found["end"], text)
        if not start < end:
            raise WindowProblem(f"{text!r}: the window must end after it starts, on the same day "
                                "(24:00 is the end of the day)")
        return cls(_days(found["days"], text), start, end)

    @property
    def length(self) -> timedelta | None:
        """How long the window stays open (None: always open)."""
        return None if self.always else timedelta(minutes=self.end - self.start)

    def __str__(self) -> str:
        if self.always:
            return ALWAYS
        days = ",".join(DAYS[day] for day in sorted(self.days))
        return f"{days} {_clock(self.start)}-{_clock(self.end)}"


def _minutes(clock: str, text: str) -> int:
    hours, minutes = (int(part) for part in clock.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise WindowProblem(f"{text!r}: {clock} is not a time of day (00:00 to 24:00)")
    return hours * 60 + minutes


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _days(spec: str, text: str) -> frozenset[int]:
    chosen: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise WindowProblem(f"{text!r}: days are {', '.join(DAYS)}, as a range (mon-fri) or a "
                                "list (mon,wed,fri)")
        lo, hi = DAYS.index(first), DAYS.index(last or first)
        chosen.update(range(lo, hi + 1) if lo <= hi else [*range(lo, 7), *range(0, hi + 1)])
    return frozenset(chosen)


@lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """The public holidays of a country (and subdivision) in one year; none for a country the
    `holidays` library does not know (1 January still counts, below)."""
    try:
        calendar = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError:  # a subdivision it lacks: the national calendar; else nothing
        if subdivision is None:
            return frozenset()
        return _holidays(country, None, year)
    return frozenset(calendar)


def is_day_off(day: date, window: SendWindow, zone: CandidateZone) -> bool:
    """Not a send day in the candidate's calendar: outside the window's weekdays, 1 January,
    or a public holiday of their country."""
    if day.weekday() not in window.days or (day.month, day.day) == (1, 1):
        return True
    return zone.country is not None and day in _holidays(zone.country, zone.subdivision, day.year)


def _at(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    later, minute = divmod(minutes, 24 * 60)
    return datetime.combine(day + timedelta(days=later), time(minute // 60, minute % 60), tzinfo=zone)


def opening(window: SendWindow, zone: CandidateZone, moment: datetime) -> datetime:
    """The UTC opening of the first send window, in the candidate's zone and calendar, that is
    still open at `moment` or opens after it (`always`: `moment` itself)."""
    if window.always:
        return moment.astimezone(UTC)
    clock = ZoneInfo(zone.name)
    day = moment.astimezone(clock).date()
    for _ in range(MAX_DAYS_AHEAD):
        if not is_day_off(day, window, zone) and _at(day, window.end, clock) > moment:
            return _at(day, window.start, clock).astimezone(UTC)
        day += timedelta(days=1)
    raise WindowProblem(f"no send day in the {MAX_DAYS_AHEAD} days after {moment:%Y-%m-%d} in "
                        f"{zone.name} with the window {window}: widen the window's days")


def last_moment(period_start: date, lateness_days: int, team_zone: str, moment: datetime) -> datetime:
    """The last instant a period's message may leave: the end of its lateness limit's last day
    (team calendar). A run planning after that was forced: its rows get the same allowance,
    counted from the day it planned."""
    zone = ZoneInfo(team_zone)
    last_day = period_start + timedelta(days=lateness_days)
    end = _at(last_day, 24 * 60, zone)
    if moment >= end:  # only a forced run plans past the limit
        end = _at(moment.astimezone(zone).date() + timedelta(days=lateness_days), 24 * 60, zone)
    return end.astimezone(UTC)


class Waves:
    """One run's send windows: each candidate zone's `not_before`, computed once per zone."""

    def __init__(self, window: SendWindow, moment: datetime) -> None:
        self.window, self.moment = window, moment
        self._openings: dict[tuple[str, str | None, str | None], datetime] = {}

    def not_before(self, zone: CandidateZone) -> datetime:
        key = (zone.name, zone.country, zone.subdivision)  # not why it was chosen
        found = self._openings.get(key)
        if found is None:
            found = self._openings[key] = opening(self.window, zone, self.moment)
        return found
