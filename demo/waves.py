"""The demo's clock and its waves: the cadences run at the deployments' hour, later waves wait.

`make demo` runs every cadence as the scheduled deployments would: at 09:00 in the team's zone
on a working day (today, or the next one). Candidates whose window is open then (the team's
zone) are sent at once; the others (London an hour later, Montréal and Toronto six, Calgary
eight, Vancouver nine) wait, and `vivier deliver --at … --hours …` shows them leaving.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select, tuple_

from vivier.ledger.states import SendState
from vivier.rules.send_window import is_day_off
from vivier.rules.zones import CandidateZone, zone_country
from vivier.settings import Settings
from vivier.store.schema import Send


def demo_clock(settings: Settings, today: date) -> datetime:
    """09:00 (the weekly window's opening) in the team's zone, today or on the next working day."""
    window = settings.send_hours("weekly")
    team = CandidateZone(settings.team_timezone, "team", zone_country(settings.team_timezone))
    day = today
    while is_day_off(day, window, team):
        day += timedelta(days=1)
    opens = time(window.start // 60, window.start % 60) if not window.always else time(9)
    return datetime.combine(day, opens, tzinfo=ZoneInfo(settings.team_timezone))


def by_zone(conn: Connection, periods: list[tuple[str, str]], moment: datetime) -> dict[str, Counter[str]]:
    """Per time zone, the periods' messages sent and waiting (after `moment`)."""
    found: dict[str, Counter[str]] = {}
    rows = conn.execute(
        select(Send.zone, Send.status, Send.not_before > moment, func.count())
        .where(tuple_(Send.cadence, Send.period_key).in_(periods))
        .group_by(Send.zone, Send.status, Send.not_before > moment))
    for zone, status, later, count in rows:
        state = "waiting" if status == SendState.pending and later else str(status)
        found.setdefault(zone or "(before send windows)", Counter())[state] += int(count)
    return found


def next_waves(
    conn: Connection, periods: list[tuple[str, str]], moment: datetime,
) -> list[tuple[datetime, str, int]]:
    """The later waves of these periods: (opening in UTC, zone, messages), soonest first."""
    rows = conn.execute(
        select(Send.not_before, Send.zone, func.count())
        .where(tuple_(Send.cadence, Send.period_key).in_(periods),
               Send.status == str(SendState.pending), Send.not_before > moment)
        .group_by(Send.not_before, Send.zone).order_by(Send.not_before, Send.zone))
    return [(opening, zone or "?", int(count)) for opening, zone, count in rows if opening is not None]
