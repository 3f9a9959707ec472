"""When the scheduled deployments run each cadence: the first day of its period, 09:00 team time.

The cron lines live in `prefect.yaml` (weekly Mondays, monthly the 1st, quarterly the 1st of
Jan/Apr/Jul/Oct, all 09:00); a test keeps them and this rule equal. A preview decides with
this instant as its clock, as the scheduled run will.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from vivier.rules.cadences import next_period_start, period_key, period_start

SCHEDULED_TIME = time(9, 0)  # prefect.yaml's "0 9 …" in the team's time zone


def scheduled_instant(cadence: str, key: str, zone: ZoneInfo) -> datetime:
    """When the scheduled run of this period starts: its first day at 09:00, team time."""
    return datetime.combine(period_start(cadence, key), SCHEDULED_TIME, tzinfo=zone)


def scheduled_for(cadence: str, day: date, zone: ZoneInfo) -> datetime:
    """The scheduled instant of the period that contains `day`."""
    return scheduled_instant(cadence, period_key(cadence, day), zone)


def next_scheduled(cadence: str, now: datetime, zone: ZoneInfo) -> datetime:
    """The next scheduled run at or after `now`: this period's if it is still to come, else the next's."""
    key = period_key(cadence, now.astimezone(zone).date())
    instant = scheduled_instant(cadence, key, zone)
    if instant >= now:
        return instant
    return scheduled_instant(cadence, period_key(cadence, next_period_start(cadence, key)), zone)
