"""`vivier pause` and `vivier resume`: a recruiter keeps one person out of nurturing for a while."""

from __future__ import annotations

import getpass
from datetime import datetime

import typer
from rich.markup import escape

from app.commands.common import console, day_option, engine, load, refuse
from app.commands.gdpr import CANDIDATE, _candidate_id
from vivier.pauses import PauseProblem, active_end, record_pause, record_resume, until_day
from vivier.pipeline import extract
from vivier.store.schema import utcnow


def pause(
    candidate: str = CANDIDATE,
    until: str | None = typer.Option(None, "--until", help="last paused day, YYYY-MM-DD (team's time zone)"),
    days: int | None = typer.Option(None, "--days", help="pause through the day N days from today"),
    reason: str = typer.Option(..., "--reason", help="why, for the record (shown by vivier why, never in run summaries)"),
) -> None:
    """Keep one person out of every cadence until a date: runs record them as `paused`.

    The pause runs through the --until day in the team's time zone (VIVIER_TEAM_TIMEZONE);
    --days N is --until today + N. A later pause replaces an earlier one; vivier resume ends it.

    Examples:

      vivier pause T-000012 --days 14 --reason "interviewing with the client directly"

      vivier pause 12 --until 2026-12-31 --reason "asked for a break until the new year"
    """
    settings = load()
    today = datetime.now(settings.zone).date()
    try:
        if not reason.strip():
            raise PauseProblem("--reason is empty: say why, for the record")
        last_day = until_day(day_option(until, "--until") if until else None, days, today)
    except PauseProblem as problem:
        refuse(problem)
    with engine(settings).begin() as conn:
        candidate_id = _candidate_id(conn, candidate)
        record_pause(conn, candidate_id, last_day, settings.zone, reason.strip(), getpass.getuser())
    console.print(f"candidate {candidate_id} paused through {last_day:%Y-%m-%d} "
                  f"({escape(settings.team_timezone)}); vivier resume {candidate_id} ends it sooner")


def resume(candidate: str = CANDIDATE) -> None:
    """End a person's pause now: the next run considers them again.

    Example: vivier resume T-000012
    """
    settings = load()
    with engine(settings).begin() as conn:
        candidate_id = _candidate_id(conn, candidate)
        latest = extract.latest_pause_events(conn, candidate_id - 1, candidate_id).get(candidate_id)
        if latest is None or active_end(latest.kind, latest.details, utcnow()) is None:
            console.print(f"candidate {candidate_id} is not paused: nothing to do")
            return
        record_resume(conn, candidate_id, getpass.getuser())
    console.print(f"candidate {candidate_id} resumed: the next run considers them again")
