"""What a candidate may change about how we keep in touch, each change in one transaction.

Frequency, the privileged pool, their field and where they search, consent, and the
unsubscribe: every action locks the
candidate's row first, so two racing submits of the same choice record one change, then
writes `preferences`, appends `consents` (with evidence) and `suppressions`, and records an
interaction per change. A choice that is already in force records nothing. Used by the
preference centre and the one-click unsubscribe, and by anything else that acts for a
candidate (imports, the GDPR desk); no web framework here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from vivier.rules import places, vocabulary
from vivier.rules.cadences import STATUS_CADENCE
from vivier.rules.identity import email_hash
from vivier.store.schema import FREQUENCIES, Candidate, Consent, Interaction, Preference, Suppression, utcnow
from vivier.store.sql import add_suppressions

PURPOSE = "nurturing"
USER_AGENT_CHARS = 400


class UnknownCandidate(LookupError):
    """No candidate (or an erased one) behind an id: nothing to change."""


class ChoiceRefused(ValueError):
    """A choice that cannot hold: the privileged pool without consent, a field or place the
    vocabulary does not know. `choice` names it (privileged, expertise, search_location...)."""

    def __init__(self, message: str, choice: str = "privileged") -> None:
        super().__init__(message)
        self.choice = choice


@dataclass(frozen=True)
class Evidence:
    """Who asked for a change and how: kept with consent events and interactions."""

    source: str  # preference_centre | one_click | ...
    token_id: str | None = None  # tokens.token_id() of the link used, never the token
    user_agent: str | None = None
    at: datetime = field(default_factory=utcnow)

    def as_json(self) -> dict[str, Any]:
        agent = (self.user_agent or "")[:USER_AGENT_CHARS] or None
        return {"at": self.at.isoformat(), "token_id": self.token_id, "user_agent": agent}


@dataclass(frozen=True)
class Choices:
    """What the candidate wants; None leaves a choice as it is."""

    frequency: str | None = None  # weekly | monthly | quarterly | none
    privileged: bool | None = None
    consent: bool | None = None  # True: keep in touch; False: withdraw (or decline)
    expertise: str | None = None  # a field of the vocabulary (either language's label)
    search_location: str | None = None  # a place of the vocabulary (any of its names)


@dataclass(frozen=True)
class Change:
    """One thing that changed, for the confirmation page and the caller's report."""

    what: str  # frequency | privileged | expertise | search_location | consent | unsubscribed
    before: Any
    after: Any


@dataclass(frozen=True)
class CandidateState:
    """Everything the preference page shows about one candidate."""

    candidate_id: int
    first_name: str | None
    locale: str
    default_frequency: str  # what their status gets when they have not chosen
    own_frequency: str | None
    privileged: bool
    consent: str | None  # latest event: granted | withdrawn | denied | None (never asked/answered)
    unsubscribed: bool  # their address is suppressed because they unsubscribed
    suppressed: str | None  # any suppression reason of their address
    email: str | None = field(repr=False, default=None)
    expertise: str | None = None  # their own choice, else the ATS's
    search_location: str | None = None  # their own choice, else the ATS's
    own_expertise: str | None = None
    own_search_location: str | None = None

    @property
    def frequency(self) -> str:
        return self.own_frequency or self.default_frequency

    @property
    def keeps_in_touch(self) -> bool:
        return self.consent == "granted" and self.suppressed is None and self.frequency != "none"


def read_state(engine: Engine, candidate_id: int) -> CandidateState:
    """The candidate's choices as they stand; UnknownCandidate if missing or erased."""
    with engine.connect() as conn:
        return _state(conn, candidate_id)


def apply_choices(
    engine: Engine, candidate_id: int, choices: Choices, evidence: Evidence
) -> list[Change]:
    """Apply a whole form of choices at once; returns what changed (empty: nothing to do)."""
    with engine.begin() as conn:
        return apply_choices_in(conn, candidate_id, choices, evidence)


def apply_choices_in(
    conn: Connection, candidate_id: int, choices: Choices, evidence: Evidence
) -> list[Change]:
    """`apply_choices` inside the caller's transaction (e.g. with the event that caused it)."""
    _lock(conn, candidate_id)
    state = _state(conn, candidate_id)
    return _apply(conn, state, choices, evidence)


def change_frequency(
    engine: Engine, candidate_id: int, frequency: str, evidence: Evidence
) -> list[Change]:
    return apply_choices(engine, candidate_id, Choices(frequency=frequency), evidence)


def set_privileged(
    engine: Engine, candidate_id: int, privileged: bool, evidence: Evidence
) -> list[Change]:
    return apply_choices(engine, candidate_id, Choices(privileged=privileged), evidence)


def grant_consent(engine: Engine, candidate_id: int, evidence: Evidence) -> list[Change]:
    return apply_choices(engine, candidate_id, Choices(consent=True), evidence)


def withdraw_consent(engine: Engine, candidate_id: int, evidence: Evidence) -> list[Change]:
    return apply_choices(engine, candidate_id, Choices(consent=False), evidence)


def unsubscribe(engine: Engine, candidate_id: int, evidence: Evidence) -> list[Change]:
    """Stop every message: suppress the address, withdraw consent, leave the privileged pool.

    An erased candidate is already suppressed (by erasure): nothing to do, no error, so a
    mailbox provider's one-click request always succeeds.
    """
    with engine.begin() as conn:
        _lock(conn, candidate_id)
        try:
            state = _state(conn, candidate_id)
        except UnknownCandidate:
            return []
        changes = _apply(conn, state, Choices(consent=False, privileged=False), evidence)
        if state.email and state.suppressed is None:
            add_suppressions(conn, [{"email_hash": email_hash(state.email), "reason": "unsubscribe",
                                     "source": evidence.source, "created_at": evidence.at}])
            changes.append(Change("unsubscribed", False, True))
        if changes:
            _record(conn, state.candidate_id, "unsubscribed", evidence, {})
        return changes


def _apply(
    conn: Connection, state: CandidateState, choices: Choices, evidence: Evidence
) -> list[Change]:
    if choices.frequency is not None and choices.frequency not in FREQUENCIES:
        raise ChoiceRefused(
            f"unknown frequency {choices.frequency!r}: choose one of {', '.join(FREQUENCIES)}",
            "frequency")
    expertise = _known_expertise(choices.expertise, state)
    search_location = _known_place(choices.search_location, state)
    consenting = state.consent == "granted" if choices.consent is None else choices.consent
    privileged = state.privileged if choices.privileged is None else choices.privileged
    if privileged and not consenting:
        if choices.privileged:
            raise ChoiceRefused("the privileged pool is for candidates who agree to hear from us")
        privileged = False  # withdrawing consent also leaves the pool
    frequency = choices.frequency or state.frequency

    changes: list[Change] = []
    if choices.consent is not None:
        changes += _consent(conn, state, choices.consent, evidence)
    if frequency != state.frequency:
        changes.append(Change("frequency", state.frequency, frequency))
    if privileged != state.privileged:
        changes.append(Change("privileged", state.privileged, privileged))
    if expertise != state.expertise:
        changes.append(Change("expertise", state.expertise, expertise))
    if search_location != state.search_location:
        changes.append(Change("search_location", state.search_location, search_location))
    preference_changes = [c for c in changes if c.what in PREFERENCE_FIELDS]
    if preference_changes:
        own = {"expertise": state.own_expertise, "search_location": state.own_search_location,
               **{c.what: c.after for c in preference_changes if c.what in SEARCH_FIELDS}}
        _save_preference(conn, state, frequency, privileged, evidence, own)
        for change in preference_changes:
            _record(conn, state.candidate_id, "preference_changed", evidence,
                    {"field": change.what, "from": change.before, "to": change.after})
    return changes


PREFERENCE_FIELDS = ("frequency", "privileged", "expertise", "search_location")
SEARCH_FIELDS = ("expertise", "search_location")


def _known_expertise(chosen: str | None, state: CandidateState) -> str | None:
    return _known(chosen, state.expertise, vocabulary.expertise, "expertise",
                  f"unknown field: choose one of {', '.join(vocabulary.EXPERTISES)}")


def _known_place(chosen: str | None, state: CandidateState) -> str | None:
    return _known(chosen, state.search_location, _place_name, "search_location",
                  "unknown place: choose a city, a country or remote work the vocabulary knows "
                  "(vivier/rules/places.py)")


def _place_name(value: str | None) -> str | None:
    found = places.place(value)
    return found.name if found else None


def _known(chosen: str | None, current: str | None, canonical: Callable[[str | None], str | None],
           choice: str, refusal: str) -> str | None:
    """The canonical value chosen; the current one when none is given or it names the same."""
    wanted = canonical(chosen)
    if chosen is None or chosen == current or (wanted is not None and wanted == canonical(current)):
        return current  # the same, however it is spelled
    if wanted is None:
        raise ChoiceRefused(refusal, choice)
    return wanted


def _consent(
    conn: Connection, state: CandidateState, granted: bool, evidence: Evidence
) -> list[Change]:
    """Append the consent event if the answer changes it; a "yes" also lifts their own unsubscribe."""
    if granted:
        new_state = "granted"
    elif state.consent == "granted":
        new_state = "withdrawn"
    else:  # never answered: a "no" is a decision too (the survey stops asking)
        new_state = state.consent or "denied"
    changes = []
    if new_state != state.consent:
        conn.execute(insert(Consent), {
            "candidate_id": state.candidate_id, "purpose": PURPOSE, "state": new_state,
            "source": evidence.source, "evidence": evidence.as_json(), "recorded_at": evidence.at,
        })
        _record(conn, state.candidate_id, f"consent_{new_state}", evidence, {"from": state.consent})
        changes.append(Change("consent", state.consent, new_state))
    if granted and state.unsubscribed and state.email:
        # Only their own unsubscribe: bounces, complaints and erasures stay suppressed.
        conn.execute(delete(Suppression).where(
            Suppression.email_hash == email_hash(state.email), Suppression.reason == "unsubscribe"))
        changes.append(Change("unsubscribed", True, False))
        _record(conn, state.candidate_id, "resubscribed", evidence, {})
    return changes


def _save_preference(
    conn: Connection, state: CandidateState, frequency: str, privileged: bool, evidence: Evidence,
    own: dict[str, str | None],
) -> None:
    values = {"frequency": frequency, "privileged": privileged, "updated_at": evidence.at,
              "source": evidence.source, **own}
    done = conn.execute(
        update(Preference).where(Preference.candidate_id == state.candidate_id).values(**values))
    if not done.rowcount:
        conn.execute(insert(Preference), {"candidate_id": state.candidate_id, **values})


def _record(
    conn: Connection, candidate_id: int, kind: str, evidence: Evidence, details: dict[str, Any]
) -> None:
    conn.execute(insert(Interaction), {
        "candidate_id": candidate_id, "kind": kind, "occurred_at": evidence.at,
        "details": {**details, "source": evidence.source, "token_id": evidence.token_id},
    })


def _lock(conn: Connection, candidate_id: int) -> None:
    """Take the candidate's row lock first: a racing change waits, then sees this one's result.

    A no-op UPDATE locks the row on PostgreSQL and takes SQLite's write lock before any read.
    """
    conn.execute(update(Candidate).where(Candidate.id == candidate_id)
                 .values(updated_at=Candidate.updated_at))


def _state(conn: Connection, candidate_id: int) -> CandidateState:
    row = conn.execute(
        select(Candidate.id, Candidate.first_name, Candidate.locale, Candidate.status,
               Candidate.email, Candidate.erased_at, Preference.frequency, Preference.privileged,
               Candidate.expertise, Candidate.search_location,
               Preference.expertise.label("own_expertise"),
               Preference.search_location.label("own_search_location"))
        .outerjoin(Preference, Preference.candidate_id == Candidate.id)
        .where(Candidate.id == candidate_id)
    ).one_or_none()
    if row is None or row.erased_at is not None:
        raise UnknownCandidate(f"no candidate {candidate_id} (never existed, or erased)")
    consent = conn.execute(
        select(Consent.state).where(Consent.candidate_id == candidate_id, Consent.purpose == PURPOSE)
        .order_by(Consent.recorded_at.desc(), Consent.id.desc()).limit(1)
    ).scalar_one_or_none()
    reason = None
    if row.email:
        reason = conn.execute(select(Suppression.reason).where(
            Suppression.email_hash == email_hash(row.email))).scalar_one_or_none()
    return CandidateState(
        candidate_id=row.id, first_name=row.first_name, locale=row.locale or "",
        default_frequency=STATUS_CADENCE.get(row.status, "quarterly"),
        own_frequency=row.frequency, privileged=bool(row.privileged), consent=consent,
        unsubscribed=reason == "unsubscribe", suppressed=reason, email=row.email,
        expertise=row.own_expertise or row.expertise,
        search_location=row.own_search_location or row.search_location,
        own_expertise=row.own_expertise, own_search_location=row.own_search_location,
    )
