"""Which periods a backfill runs, skips or refuses — decided before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, select

from vivier.rules.cadences import PeriodTooLate, check_lateness, period_start, periods_between
from vivier.store.schema import Run


@dataclass(frozen=True)
class PeriodStep:
    """One period of a backfill and what happens to it."""

    period_key: str
    as_of: date  # the day the period's run is for (its first day)
    action: str  # "run" | "skip" | "refuse"
    reason: str = ""


def completed_periods(engine: Engine, cadence: str) -> set[str]:
    """Periods with a real (not dry) run that completed."""
    with engine.connect() as conn:
        rows = conn.execute(select(Run.period_key).where(
            Run.cadence == cadence, Run.dry_run.is_(False), Run.state == "completed"))
        return set(rows.scalars())


def plan_backfill(
    engine: Engine, cadence: str, since: date, until: date, today: date, lateness_days: int,
    force: bool,
) -> list[PeriodStep]:
    """Every period touched by since..until, oldest first: run it, skip it (complete) or refuse it."""
    if until < since:
        raise ValueError(f"--until {until} is before --since {since}")
    if until > today:
        raise ValueError(f"--until {until} is in the future: a backfill only covers past periods")
    done = completed_periods(engine, cadence)
    steps = []
    for key in periods_between(cadence, since, until):
        start = period_start(cadence, key)
        if key in done:
            steps.append(PeriodStep(key, start, "skip", "already complete"))
            continue
        try:
            check_lateness(cadence, key, today, lateness_days, force)
        except PeriodTooLate:
            late_by = (today - start).days
            steps.append(PeriodStep(key, start, "refuse",
                                    f"{late_by} days old, past the {lateness_days}-day limit"))
            continue
        steps.append(PeriodStep(key, start, "run"))
    return steps
