"""The consent survey: who is asked to join the privileged pool, reminded, or asked to renew.

Three kinds of message, each a cadence of the send ledger, keyed by the run's month:

- `consent_survey`: candidates with no consent decision yet, never asked before;
- `consent_survey_reminder`: asked at least `survey_reminder_days` ago, still undecided,
  never reminded: one reminder, then nothing (they stay without consent: never nurtured);
- `consent_renewal`: consenting candidates whose profile reaches the GDPR retention limit
  (last active contact + `retention_months`) within `renewal_notice_days`; asked once:
  answering is an active contact, which moves the limit two years ahead.

Someone asked under an earlier month's key is left out of the audience; under the same key
the ledger decides (a rerun sends nothing twice). The answer is given on the preference page.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, and_, exists, func, select

from vivier.gdpr.retention import _active_since as active_since
from vivier.gdpr.retention import months_before
from vivier.ledger.states import LEFT_OR_MAY_HAVE, SendState
from vivier.rules.cadences import period_key
from vivier.rules.eligibility import CandidateFacts, exclusion
from vivier.settings import Settings
from vivier.store.schema import Candidate, Consent, Preference, Send

SURVEY = "consent_survey"
REMINDER = "consent_survey_reminder"
RENEWAL = "consent_renewal"
KINDS = (SURVEY, REMINDER, RENEWAL)
TEMPLATES = {SURVEY: "consent_survey", REMINDER: "consent_survey", RENEWAL: "consent_renewal"}
ASKED = LEFT_OR_MAY_HAVE  # a message that left, or may have
CONSENT_DECIDED = "consent_decided"  # decisions.reason: they answered since the audience was cut


def survey_period_key(day: date) -> str:
    """The ledger key of a survey run: its month (`2026-11`)."""
    return period_key("monthly", day)


def renewal_cutoff(settings: Settings, now: datetime) -> datetime:
    """Who has done nothing themselves since this moment reaches the retention limit within the
    notice period (the limit is the GDPR retention's: last active contact + retention_months)."""
    return months_before(now, settings.retention_months) + timedelta(days=settings.renewal_notice_days)


def _asked(cadence: str, key: str, since: Any = None) -> Any:
    """A message of this kind left for the candidate under another key (and after `since`)."""
    condition = and_(Send.candidate_id == Candidate.id, Send.cadence == cadence,
                     Send.status.in_(ASKED), Send.period_key != key)
    if since is not None:
        condition = and_(condition, Send.created_at >= since)
    return exists().where(condition)


def _latest_consent() -> Any:
    return (
        select(Consent.candidate_id, Consent.state, Consent.recorded_at,
               func.row_number().over(partition_by=Consent.candidate_id,
                                      order_by=(Consent.recorded_at.desc(), Consent.id.desc()))
               .label("rank"))
        .where(Consent.purpose == "nurturing")
        .subquery()
    )


def audience(kind: str, key: str, now: datetime, settings: Settings, *columns: Any) -> Select[Any]:
    """Select `columns` of this kind's audience (candidates, with their own frequency choice)."""
    query = (select(*columns).select_from(Candidate)
             .outerjoin(Preference, Preference.candidate_id == Candidate.id)
             .where(Candidate.erased_at.is_(None)))
    undecided = ~exists().where(Consent.candidate_id == Candidate.id, Consent.purpose == "nurturing")
    if kind == SURVEY:
        return query.where(undecided, ~_asked(SURVEY, key))
    if kind == REMINDER:
        due = now - timedelta(days=settings.survey_reminder_days)
        surveyed = exists().where(Send.candidate_id == Candidate.id, Send.cadence == SURVEY,
                                  Send.status == SendState.sent, Send.sent_at <= due)
        return query.where(undecided, surveyed, ~_asked(REMINDER, key))
    if kind == RENEWAL:
        latest, cutoff = _latest_consent(), renewal_cutoff(settings, now)
        # Its own FROM: the retention rule's subqueries must not correlate with our join.
        active = select(Candidate.id).where(active_since(cutoff)).correlate(None)
        return query.join(latest, and_(latest.c.candidate_id == Candidate.id, latest.c.rank == 1)).where(
            latest.c.state == "granted", Candidate.id.not_in(active),
            ~_asked(RENEWAL, key, since=cutoff))
    raise ValueError(f"unknown survey kind {kind!r}: use one of {', '.join(KINDS)}")


def audience_bounds(
    conn: Connection, kind: str, key: str, now: datetime, settings: Settings, batch_size: int
) -> list[tuple[int, int]]:
    """Id ranges `(lo, hi]` of about `batch_size` audience members each (ids only, streamed)."""
    query = audience(kind, key, now, settings, Candidate.id).order_by(Candidate.id)
    bounds, low, count, last = [], 0, 0, None
    for candidate_id in conn.execution_options(stream_results=True, yield_per=10_000).scalars(query):
        count, last = count + 1, candidate_id
        if count % batch_size == 0:
            bounds.append((low, candidate_id))
            low = candidate_id
    if last is not None and last != low:
        bounds.append((low, last))
    return bounds


def survey_exclusion(
    kind: str, facts: CandidateFacts, now: datetime, contact_gap: timedelta
) -> str | None:
    """The nurture policy, except that the survey is for candidates who have not decided.

    A renewal is the nurture policy itself (consent granted), without the contact gap: it is
    asked once in two years and must not wait behind a weekly letter.
    """
    if kind == RENEWAL:
        return exclusion(facts, now, timedelta(0))
    if facts.consent is not None:
        return CONSENT_DECIDED
    return exclusion(replace(facts, consent="granted"), now, contact_gap)
