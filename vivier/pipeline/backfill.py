"""Which periods a backfill runs, skips or refuses — decided before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, and_, exists, func, or_, select

from vivier.ledger.states import SendState
from vivier.pipeline import extract
from vivier.rules.cadences import PeriodTooLate, check_lateness, period_start, periods_between
from vivier.store.schema import Candidate, Consent, Decision, Preference, Send, utcnow


@dataclass(frozen=True)
class PeriodStep:
    """One period of a backfill and what happens to it."""

    period_key: str
    as_of: date  # the day the period's run is for (its first day)
    action: str  # "run" | "skip" | "refuse"
    reason: str = ""


def waiting(engine: Engine, cadence: str, key: str, now: datetime | None = None) -> int:
    """Pending rows of the period whose send window opens later: planned, not missing."""
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Send).where(
            Send.cadence == cadence, Send.period_key == key, Send.status == str(SendState.pending),
            Send.not_before > (now or utcnow()))) or 0


def unfinished(engine: Engine, cadence: str, key: str, now: datetime | None = None) -> str | None:
    """Why period `key` still owes messages, or None when it is complete.

    Judged from the ledger, not from an earlier run's state: a period is complete when it has no
    pending or failed row and every candidate of the cadence's pool who may be messaged now
    (consent granted, not in the `none` pool) has a ledger row or a decision of a real run. A
    row waiting for its send window is not missing: the hourly deliver sends it (`waiting`).
    """
    owed = or_(Send.status == str(SendState.failed),
               and_(Send.status == str(SendState.pending),
                    or_(Send.not_before.is_(None), Send.not_before <= (now or utcnow()))))
    with engine.connect() as conn:
        open_rows = conn.scalar(select(func.count()).select_from(Send).where(
            Send.cadence == cadence, Send.period_key == key, owed)) or 0
        latest_consent = (
            select(Consent.state).where(Consent.candidate_id == Candidate.id,
                                        Consent.purpose == "nurturing")
            .order_by(Consent.recorded_at.desc(), Consent.id.desc()).limit(1)
            .correlate(Candidate).scalar_subquery())
        judged = or_(
            exists().where(Send.candidate_id == Candidate.id, Send.cadence == cadence,
                           Send.period_key == key),
            exists().where(Decision.candidate_id == Candidate.id, Decision.cadence == cadence,
                           Decision.period_key == key, Decision.dry_run.is_(False)))
        never_judged = conn.scalar(
            select(func.count()).select_from(Candidate)
            .outerjoin(Preference, Preference.candidate_id == Candidate.id)
            .where(extract.in_pool(cadence), or_(Preference.frequency.is_(None),
                                                 Preference.frequency != "none"),
                   latest_consent == "granted", ~judged)) or 0
    reasons = []
    if open_rows:
        reasons.append(f"{open_rows:,} pending or failed message(s)")
    if never_judged:
        reasons.append(f"{never_judged:,} candidate(s) not yet considered")
    return " and ".join(reasons) or None


def plan_backfill(
    engine: Engine, cadence: str, since: date, until: date, today: date, lateness_days: int,
    force: bool, now: datetime | None = None,
) -> list[PeriodStep]:
    """Every period touched by since..until, oldest first: run it, skip it (complete) or refuse it."""
    if until < since:
        raise ValueError(f"--until {until} is before --since {since}")
    if until > today:
        raise ValueError(f"--until {until} is in the future: a backfill only covers past periods")
    steps = []
    for key in periods_between(cadence, since, until):
        start = period_start(cadence, key)
        owed = unfinished(engine, cadence, key, now)
        if owed is None:
            later = waiting(engine, cadence, key, now)
            steps.append(PeriodStep(key, start, "skip", (
                f"planned: {later:,} message(s) wait for their send window (the hourly deliver "
                "sends them)") if later else "complete: everyone eligible has a final ledger row"))
            continue
        try:
            check_lateness(cadence, key, today, lateness_days, force)
        except PeriodTooLate:
            late_by = (today - start).days
            steps.append(PeriodStep(key, start, "refuse",
                                    f"{late_by} days old, past the {lateness_days}-day limit"))
            continue
        steps.append(PeriodStep(key, start, "run", owed))
    return steps
