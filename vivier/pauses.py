"""A recruiter's pause on one person: recorded as interactions (`paused`, `resumed`), latest wins.

A pause runs through its `until` day in the team's time zone: it ends at the midnight that
starts the next day (`ends_at`, stored in UTC). The reason is kept for the record (`why`,
`gdpr export`) and never printed in run summaries or logs.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert

from vivier.store.schema import Interaction, utcnow

PAUSED, RESUMED = "paused", "resumed"


class PauseProblem(ValueError):
    """A pause that cannot be recorded as asked, described for the person who typed it."""


def pause_end(until: date, zone: ZoneInfo) -> datetime:
    """The moment a pause through `until` ends: the next day's midnight in the team's zone."""
    return datetime.combine(until + timedelta(days=1), time(0), tzinfo=zone)


def until_day(until: date | None, days: int | None, today: date) -> date:
    """The last paused day from `--until DATE` or `--days N` (exactly one; N days after today)."""
    if (until is None) == (days is None):
        raise PauseProblem("give exactly one of --until YYYY-MM-DD or --days N")
    if days is not None:
        if days < 1:
            raise PauseProblem(f"--days {days}: a pause lasts at least 1 day")
        return today + timedelta(days=days)
    assert until is not None
    if until < today:
        raise PauseProblem(f"--until {until:%Y-%m-%d} is in the past (today is {today:%Y-%m-%d})")
    return until


def record_pause(
    conn: Connection, candidate_id: int, until: date, zone: ZoneInfo, reason: str, by: str,
    now: datetime | None = None,
) -> datetime:
    """Write a `paused` interaction; returns when the pause ends (UTC)."""
    ends_at = pause_end(until, zone)
    conn.execute(insert(Interaction).values(
        candidate_id=candidate_id, kind=PAUSED, occurred_at=now or utcnow(),
        details={"until": until.isoformat(), "ends_at": ends_at.isoformat(),
                 "reason": reason, "by": by}))
    return ends_at


def record_resume(conn: Connection, candidate_id: int, by: str, now: datetime | None = None) -> None:
    """Write a `resumed` interaction: it ends any pause recorded before it."""
    conn.execute(insert(Interaction).values(
        candidate_id=candidate_id, kind=RESUMED, occurred_at=now or utcnow(), details={"by": by}))


def active_end(kind: str, details: dict[str, Any] | None, now: datetime) -> datetime | None:
    """When the pause of this latest pause/resume interaction ends, if it is active at `now`."""
    if kind != PAUSED or not details or not details.get("ends_at"):
        return None
    ends_at = datetime.fromisoformat(details["ends_at"])
    return ends_at if now < ends_at else None
