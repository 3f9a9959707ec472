"""The scheduled instant of a period (a preview's clock) is when prefect.yaml's deployments run it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from vivier.rules.cadences import CADENCES, period_key
from vivier.rules.schedule import next_scheduled, scheduled_for, scheduled_instant
from vivier.settings import load_settings

PARIS = ZoneInfo("Europe/Paris")
ROOT = Path(__file__).resolve().parents[1]


def crons() -> dict[str, tuple[str, str]]:
    """cadence -> (cron line, time zone) of each `nurture` deployment in prefect.yaml."""
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    return {d["parameters"]["cadence"]: (d["schedules"][0]["cron"], d["schedules"][0]["timezone"])
            for d in deployments if d["entrypoint"].endswith(":nurture") and d.get("schedules")}


def fires(cron: str, moment: datetime) -> bool:
    """Whether a five-field cron line with plain numbers, lists and `*` fires at `moment`."""
    minute, hour, day, month, weekday = cron.split()
    values = (moment.minute, moment.hour, moment.day, moment.month, moment.isoweekday() % 7)
    return all(field == "*" or value in {int(part) for part in field.split(",")}
               for field, value in zip((minute, hour, day, month, weekday), values, strict=True))


@pytest.mark.parametrize("cadence", sorted(CADENCES))
def test_the_scheduled_instant_is_when_the_deployment_fires(cadence: str) -> None:
    cron, zone = crons()[cadence]
    assert zone == load_settings().team_timezone
    for day in ("2026-01-01", "2026-03-30", "2026-07-15", "2026-11-26", "2027-10-03"):
        instant = scheduled_for(cadence, datetime.fromisoformat(day).date(), PARIS)
        assert fires(cron, instant), f"{cadence}: {instant} is not when `{cron}` runs"
        assert period_key(cadence, instant.date()) == period_key(cadence, datetime.fromisoformat(day).date())


def test_the_weekly_instant_is_monday_nine_in_the_team_zone_across_a_clock_change() -> None:
    before, after = (scheduled_instant("weekly", key, PARIS) for key in ("2026-W43", "2026-W45"))
    assert (before.isoweekday(), before.hour, before.utcoffset().total_seconds()) == (1, 9, 7200)
    assert (after.isoweekday(), after.hour, after.utcoffset().total_seconds()) == (1, 9, 3600)


@pytest.mark.parametrize("now,expected", [
    ("2026-11-30T08:59", "2026-11-30T09:00"),   # Monday before the run: today's
    ("2026-11-30T09:00", "2026-11-30T09:00"),   # at the run
    ("2026-11-30T09:01", "2026-12-07T09:00"),   # after it: next Monday's
    ("2026-11-26T15:00", "2026-11-30T09:00"),   # a Thursday
    ("2026-12-31T23:30", "2027-01-04T09:00"),   # across the year (ISO week 2027-W01)
])
def test_the_next_weekly_run(now: str, expected: str) -> None:
    moment = datetime.fromisoformat(now).replace(tzinfo=PARIS)
    assert next_scheduled("weekly", moment, PARIS) == datetime.fromisoformat(expected).replace(tzinfo=PARIS)


def test_the_next_monthly_and_quarterly_runs() -> None:
    moment = datetime(2026, 11, 26, 15, tzinfo=PARIS)
    assert next_scheduled("monthly", moment, PARIS) == datetime(2026, 12, 1, 9, tzinfo=PARIS)
    assert next_scheduled("quarterly", moment, PARIS) == datetime(2027, 1, 1, 9, tzinfo=PARIS)
    assert next_scheduled("monthly", datetime(2026, 12, 1, 8, tzinfo=PARIS), PARIS) == datetime(
        2026, 12, 1, 9, tzinfo=PARIS)
