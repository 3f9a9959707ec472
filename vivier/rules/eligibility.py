"""The eligibility policy: one pure function that says who may be messaged, and why not."""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from vivier.ledger.states import SendState


class Reason(StrEnum):
    """Why a candidate was not messaged in a run (`decisions.reason`)."""

    erased = "erased"
    invalid_data = "invalid_data"
    suppressed = "suppressed"
    pool_none = "pool_none"
    no_consent = "no_consent"
    consent_withdrawn = "consent_withdrawn"
    consent_denied = "consent_denied"
    already_sent = "already_sent"
    in_doubt = "in_doubt"
    in_flight = "in_flight"
    paused = "paused"
    in_process = "in_process"
    recently_hired = "recently_hired"
    recent_reply = "recent_reply"
    recently_contacted = "recently_contacted"
    holdout = "holdout"
    nothing_new = "nothing_new"  # the message would carry no opening or content not sent before
    too_late = "too_late"  # their send window opens after the period's lateness limit
    left_pool = "left_pool"  # waiting for their window, they left the cadence's pool (or audience)
    render_error = "render_error"


OPEN_OUTCOMES = frozenset({"applied", "screening", "interview", "offer"})
CLOSED_OUTCOMES = frozenset({"hired", "rejected", "withdrawn"})


@dataclass(frozen=True, slots=True)
class ApplicationFact:
    """One ATS application as the policy sees it: the job's ATS id, its outcome and since when."""

    job_ref: str
    outcome: str
    decided_at: datetime  # when this outcome was reached (a hire: the ATS's outcome_at)


@dataclass(frozen=True, slots=True)
class ApplicationPauses:
    """How long a closed application keeps nurturing away; an open one holds while it is open."""

    hired_months: int = 12
    after_process: timedelta = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class ApplicationHold:
    """The application that keeps a candidate out of nurturing now, and until when."""

    reason: Reason
    application: ApplicationFact
    until: datetime | None  # None: while the application is open

    def describe(self) -> str:
        """One line for decisions and `vivier why`: the job and its outcome, no personal data."""
        job, outcome = self.application.job_ref, self.application.outcome
        if self.until is None:
            return f"job {job}: {outcome} (open application)"
        return (f"job {job}: {outcome} on {self.application.decided_at:%Y-%m-%d}, "
                f"nurtured again from {self.until:%Y-%m-%d}")


def application_hold(
    applications: Iterable[ApplicationFact], now: datetime, pauses: ApplicationPauses,
) -> ApplicationHold | None:
    """Which application holds the candidate now, if any.

    Any open application holds (the latest-changed one is named); otherwise the latest closed
    outcome decides alone: a hire for `hired_months`, a rejection or withdrawal for
    `after_process`. An older outcome never outlasts a newer one.
    """
    applications = list(applications)
    still_open = [a for a in applications if a.outcome in OPEN_OUTCOMES]
    if still_open:
        return ApplicationHold(Reason.in_process, max(still_open, key=_recency), None)
    closed = [a for a in applications if a.outcome in CLOSED_OUTCOMES]
    if not closed:
        return None
    latest = max(closed, key=_recency)
    if latest.outcome == "hired":
        until, reason = _months_after(latest.decided_at, pauses.hired_months), Reason.recently_hired
    else:
        until, reason = latest.decided_at + pauses.after_process, Reason.in_process
    return ApplicationHold(reason, latest, until) if now < until else None


def _recency(application: ApplicationFact) -> tuple[datetime, str]:
    return application.decided_at, application.job_ref


def _months_after(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    return moment.replace(year=year, month=month + 1,
                          day=min(moment.day, monthrange(year, month + 1)[1]))


@dataclass(frozen=True, slots=True)
class CandidateFacts:
    """What the policy needs to know about one candidate, read at run time."""

    candidate_id: int
    erased: bool
    consent: str | None  # latest nurturing consent event: granted | withdrawn | denied | None
    suppressed: bool
    frequency: str | None  # the candidate's own choice; "none" = non-nurtured pool
    ledger_status: str | None  # this cadence+period's send row, if any
    last_contacted_at: datetime | None
    last_reply_at: datetime | None = None  # a reply hands the candidate to a recruiter for a while
    held_out: bool = False  # in this period's holdout group: measured, never messaged
    applications: tuple[ApplicationFact, ...] = ()  # from the ATS: in process, hired, rejected…
    paused_until: datetime | None = None  # a recruiter's `vivier pause`, active until then


_CONSENT_REASON = {
    None: Reason.no_consent,
    "withdrawn": Reason.consent_withdrawn,
    "denied": Reason.consent_denied,
}
_LEDGER_REASON: dict[str, Reason] = {SendState.sent: Reason.already_sent, SendState.in_doubt: Reason.in_doubt,
                  SendState.sending: Reason.in_flight}


def exclusion(
    facts: CandidateFacts, now: datetime, contact_gap: timedelta,
    reply_pause: timedelta = timedelta(0), pauses: ApplicationPauses | None = None,
) -> Reason | None:
    """None when the candidate may get this period's message; otherwise the first reason not to.

    Order matters only for reporting: every reason alone is enough to exclude. The holdout
    comes last so that the held-out group is exactly as eligible as the messaged one.
    Applications count only with `pauses` (the consent survey ignores them).
    """
    if facts.erased:
        return Reason.erased
    if facts.suppressed:
        return Reason.suppressed
    if facts.frequency == "none":
        return Reason.pool_none
    if facts.consent != "granted":
        return _CONSENT_REASON.get(facts.consent, Reason.no_consent)
    if facts.ledger_status in _LEDGER_REASON:
        return _LEDGER_REASON[facts.ledger_status]
    if facts.paused_until is not None and now < facts.paused_until:
        return Reason.paused
    if pauses is not None and (hold := application_hold(facts.applications, now, pauses)):
        return hold.reason
    if facts.last_reply_at is not None and now - facts.last_reply_at < reply_pause:
        return Reason.recent_reply
    if facts.last_contacted_at is not None and now - facts.last_contacted_at < contact_gap:
        return Reason.recently_contacted
    if facts.held_out:
        return Reason.holdout
    return None
