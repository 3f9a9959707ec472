"""The eligibility policy: one pure function that says who may be messaged, and why not."""

from __future__ import annotations

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
    recent_reply = "recent_reply"
    recently_contacted = "recently_contacted"
    holdout = "holdout"
    render_error = "render_error"


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


_CONSENT_REASON = {
    None: Reason.no_consent,
    "withdrawn": Reason.consent_withdrawn,
    "denied": Reason.consent_denied,
}
_LEDGER_REASON: dict[str, Reason] = {SendState.sent: Reason.already_sent, SendState.in_doubt: Reason.in_doubt,
                  SendState.sending: Reason.in_flight}


def exclusion(
    facts: CandidateFacts, now: datetime, contact_gap: timedelta,
    reply_pause: timedelta = timedelta(0),
) -> Reason | None:
    """None when the candidate may get this period's message; otherwise the first reason not to.

    Order matters only for reporting: every reason alone is enough to exclude. The holdout
    comes last so that the held-out group is exactly as eligible as the messaged one.
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
    if facts.last_reply_at is not None and now - facts.last_reply_at < reply_pause:
        return Reason.recent_reply
    if facts.last_contacted_at is not None and now - facts.last_contacted_at < contact_gap:
        return Reason.recently_contacted
    if facts.held_out:
        return Reason.holdout
    return None
