"""`why`: for one candidate, where they stand now and what each period's runs did, and why.

Read from the record only (`decisions`, `sends`, `consents`): a period's outcome is its
sent message, else the latest of its ledger row and its decisions; with it, the consent
event in force at that moment (the latest one recorded at or before it, ties broken by
id exactly as the planner breaks them). A decision `in_process` / `recently_hired` names the
application that held them (job and outcome); "now" also names the one holding them today,
a recruiter's active pause (`vivier pause`: until when, by whom, why), and the time zone their
messages are timed in (and why that one); a message waiting for its send window says from when.
The timeline (`timeline.py`) lists every dated fact about them, oldest first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, select

from vivier.gdpr.export import plain
from vivier.gdpr.retention import last_active_contact, months_after
from vivier.gdpr.timeline import Moment, candidate_timeline
from vivier.pauses import active_end
from vivier.pipeline import extract
from vivier.rules.cadences import STATUS_CADENCE, period_start
from vivier.rules.eligibility import CLOSED_OUTCOMES, ApplicationPauses, application_hold
from vivier.rules.identity import email_hash
from vivier.rules.segments import Segments
from vivier.rules.zones import candidate_zone
from vivier.store.schema import (
    Application,
    Candidate,
    Consent,
    Decision,
    Preference,
    Run,
    Send,
    Suppression,
    utcnow,
)

UNDECIDED = "not_considered"


@dataclass(frozen=True)
class ConsentEvent:
    """One event of the consent log, as evidence of what was in force."""

    consent_id: int
    state: str
    source: str
    recorded_at: datetime
    evidence: dict[str, Any]


@dataclass
class PeriodStory:
    """What happened to the candidate for one cadence and period."""

    cadence: str
    period_key: str
    outcome: str  # sent | pending | sending | failed | in_doubt | a decision reason | not_considered
    at: datetime | None = None
    detail: str | None = None
    dry_run: bool = False
    segment: str | None = None
    template: str | None = None
    template_version: str | None = None
    message_id: str | None = None
    consent: ConsentEvent | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    not_before: datetime | None = None  # a planned message: when its send window opens (UTC)
    zone: str | None = None  # the zone its window was timed in


@dataclass
class Explanation:
    """The candidate now, and each period's story, newest first."""

    candidate_id: int
    external_id: str
    status: str
    erased_at: datetime | None
    frequency: str | None
    cadence: str | None
    segment: str | None
    consent: ConsentEvent | None
    suppressed: bool | None
    last_active_contact: datetime | None
    kept_until: datetime | None
    periods: list[PeriodStory]
    former: bool = False  # an application ended: the former candidates' cadence unless chosen
    holding: dict[str, Any] | None = None  # the application holding them now: reason, job, outcome…
    paused: dict[str, Any] | None = None  # a recruiter's active pause: until, by, reason, since
    timeline: list[Moment] = field(default_factory=list)  # every dated fact, oldest first
    zone: dict[str, Any] | None = None  # their time zone now: name, source, described

    def to_dict(self) -> dict[str, Any]:
        return dict(plain(asdict(self)))


def explain(
    conn: Connection, candidate_id: int, segments: Segments, retention_months: int,
    cadence: str | None = None, period_key: str | None = None,
    pauses: ApplicationPauses | None = None, now: datetime | None = None,
    team_zone: str | None = None,
) -> Explanation:
    """Explain one candidate (KeyError if unknown); optionally one cadence and/or period only.

    With `pauses` (the settings'), also the application that holds them out now, if any; with
    `team_zone`, the time zone their messages are timed in.
    """
    row = conn.execute(select(Candidate.__table__).where(Candidate.id == candidate_id)).first()
    if row is None:
        raise KeyError(f"no candidate with internal id {candidate_id}")
    person = dict(row._mapping)
    frequency = conn.scalar(select(Preference.frequency).where(Preference.candidate_id == candidate_id))
    log = consent_log(conn, candidate_id)
    erased = person["erased_at"] is not None
    suppressed = None if not person["email"] else conn.scalar(
        select(Suppression.email_hash).where(Suppression.email_hash == email_hash(person["email"]))
    ) is not None
    last = last_active_contact(conn, candidate_id)
    former = bool(conn.scalar(select(exists().where(
        Application.candidate_id == candidate_id, Application.outcome.in_(sorted(CLOSED_OUTCOMES))))))
    return Explanation(
        candidate_id=candidate_id, external_id=person["external_id"], status=person["status"],
        erased_at=person["erased_at"], frequency=frequency,
        cadence=None if erased else current_cadence(person["status"], frequency, former),
        segment=None if erased else segments.assign(person),
        consent=in_force(log, None), suppressed=suppressed, last_active_contact=last,
        kept_until=None if erased or last is None else months_after(last, retention_months),
        periods=period_stories(conn, candidate_id, log, cadence, period_key),
        former=former,
        holding=None if erased or pauses is None else holding_now(conn, candidate_id, pauses, now),
        paused=None if erased else paused_now(conn, candidate_id, now),
        timeline=candidate_timeline(conn, candidate_id, cadence, period_key),
        zone=None if erased or team_zone is None else _zone(person, team_zone),
    )


def _zone(person: dict[str, Any], team_zone: str) -> dict[str, Any]:
    zone = candidate_zone(person, team_zone)
    return {"name": zone.name, "source": zone.source, "described": zone.describe()}


def current_cadence(status: str, frequency: str | None, former: bool = False) -> str:
    """The cadence the candidate is in now: their own choice, else their status's default
    (a candidate whose application ended is a former one)."""
    if frequency == "none":
        return "none"
    return frequency or STATUS_CADENCE.get("former" if former else status, "none")


def holding_now(
    conn: Connection, candidate_id: int, pauses: ApplicationPauses, now: datetime | None = None,
) -> dict[str, Any] | None:
    """The application that keeps the candidate out of nurturing now, as the planner sees it."""
    applications = extract.applications(conn, candidate_id - 1, candidate_id).get(candidate_id, [])
    hold = application_hold(applications, now or utcnow(), pauses)
    if hold is None:
        return None
    return {"reason": str(hold.reason), "job": hold.application.job_ref,
            "outcome": hold.application.outcome, "since": hold.application.decided_at,
            "until": hold.until}


def paused_now(conn: Connection, candidate_id: int, now: datetime | None = None) -> dict[str, Any] | None:
    """The recruiter's pause in force now (`vivier pause`), as the planner sees it."""
    latest = extract.latest_pause_events(conn, candidate_id - 1, candidate_id).get(candidate_id)
    if latest is None or active_end(latest.kind, latest.details, now or utcnow()) is None:
        return None
    details = latest.details
    return {"until": details.get("until"), "ends_at": details.get("ends_at"),
            "by": details.get("by"), "reason": details.get("reason"), "since": latest.occurred_at}


def consent_log(conn: Connection, candidate_id: int) -> list[ConsentEvent]:
    """The nurturing consent events, in the order the planner reads them (oldest first)."""
    rows = conn.execute(
        select(Consent.id, Consent.state, Consent.source, Consent.recorded_at, Consent.evidence)
        .where(Consent.candidate_id == candidate_id, Consent.purpose == "nurturing")
        .order_by(Consent.recorded_at, Consent.id))
    return [ConsentEvent(*row) for row in rows]


def in_force(log: list[ConsentEvent], moment: datetime | None) -> ConsentEvent | None:
    """The latest event recorded at or before `moment` (None: the latest of all)."""
    chosen = None
    for event in log:
        if moment is None or event.recorded_at <= moment:
            chosen = event
    return chosen


def period_stories(
    conn: Connection, candidate_id: int, log: list[ConsentEvent],
    cadence: str | None, period_key: str | None,
) -> list[PeriodStory]:
    """One story per cadence and period the record mentions, newest period first."""
    sends = select(Send).where(Send.candidate_id == candidate_id)
    decisions = select(Decision).where(Decision.candidate_id == candidate_id)
    if cadence:
        sends, decisions = sends.where(Send.cadence == cadence), decisions.where(Decision.cadence == cadence)
    if period_key:
        sends = sends.where(Send.period_key == period_key)
        decisions = decisions.where(Decision.period_key == period_key)
    ledger = {(r.cadence, r.period_key): r for r in conn.execute(sends)}
    decided: dict[tuple[str, str], list[Any]] = {}
    for r in conn.execute(decisions.order_by(Decision.decided_at, Decision.id)):
        decided.setdefault((r.cadence, r.period_key), []).append(r)
    keys = set(ledger) | set(decided)
    if cadence and period_key and not keys:
        return [_unconsidered(conn, cadence, period_key)]
    stories = [_story(key, ledger.get(key), decided.get(key, []), log) for key in keys]
    return sorted(stories, key=lambda s: (period_start(s.cadence, s.period_key), s.cadence),
                  reverse=True)


def _story(key: tuple[str, str], send: Any, decisions: list[Any], log: list[ConsentEvent]) -> PeriodStory:
    story = PeriodStory(cadence=key[0], period_key=key[1], outcome=UNDECIDED, decisions=[
        {"run_id": d.run_id, "reason": d.reason, "detail": d.detail, "dry_run": d.dry_run,
         "segment": d.segment, "decided_at": d.decided_at} for d in decisions])
    real = [d for d in decisions if not d.dry_run]
    latest = (real or decisions or [None])[-1]
    planned_at = send and (send.sent_at or send.claimed_at or send.created_at)
    if send is not None and (send.status == "sent" or latest is None or planned_at >= latest.decided_at):
        story.outcome, story.at, story.detail = send.status, planned_at, send.error
        story.segment, story.template = send.segment, send.template
        story.template_version, story.message_id = send.template_version, send.message_id
        story.not_before, story.zone = send.not_before, send.zone
    elif latest is not None:
        story.outcome, story.at, story.detail = latest.reason, latest.decided_at, latest.detail
        story.segment, story.dry_run = latest.segment, latest.dry_run
    story.consent = in_force(log, story.at)
    return story


def _unconsidered(conn: Connection, cadence: str, period_key: str) -> PeriodStory:
    runs = conn.scalar(select(Run.id).where(Run.cadence == cadence, Run.period_key == period_key).limit(1))
    detail = (f"no {cadence} run for {period_key} yet" if runs is None else
              f"the {cadence} runs for {period_key} did not consider this candidate: they were "
              "not in that cadence's pool then (another cadence, or erased)")
    return PeriodStory(cadence=cadence, period_key=period_key, outcome=UNDECIDED, detail=detail)
