"""A preview: the plan of one period as its scheduled run would decide it, written nowhere.

The run's own steps (`plan.read_facts` → `plan.decide`) with the scheduled instant as the
clock (contact gaps, reply pauses, pauses, application holds and data checks judge by it),
and without `plan.write_plan`: no `runs` row, no send, no decision, no send item, no
interaction. No Prefect either: it runs in the caller's process.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from typing import Any

from sqlalchemy import select

from vivier.messages.context import Period, outgoing
from vivier.messages.mime import build_mime
from vivier.messages.rendering import RenderedMessage
from vivier.pipeline import extract
from vivier.pipeline.plan import CADENCE, BatchPlan, decide, read_facts
from vivier.pipeline.resources import Resources
from vivier.pipeline.runs import RunSpec
from vivier.pipeline.tally import Tally
from vivier.rules.cadences import cadence as known_cadence
from vivier.rules.cadences import period_key, period_start
from vivier.rules.schedule import next_scheduled, scheduled_for
from vivier.rules.zones import candidate_zone
from vivier.settings import Settings
from vivier.store.schema import Candidate, Preference, utcnow

PLANNED = "planned"
LIST_CAP = 2_000  # people listed per segment and list; the counts have everyone
_previews = itertools.count(1)  # a preview has no `runs` row: its catalog is cached under -n


def zone_of(candidate: dict[str, Any], settings: Settings) -> str:
    """The time zone a candidate's message is timed in: imported, else where they search, else
    their city, else the team's (`vivier.rules.zones.candidate_zone`, the planner's rule)."""
    return candidate_zone(candidate, settings.team_timezone).name


@dataclass(frozen=True)
class Person:
    """Who a line of the preview is about: ids, name, language, zone, privileged, segment."""

    candidate_id: int
    external_id: str
    name: str
    locale: str
    zone: str
    privileged: bool
    segment: str


@dataclass(frozen=True)
class Recipient:
    """Someone the run would write to, with the template and the openings their message shows."""

    person: Person
    template: str
    openings: tuple[str, ...]


@dataclass(frozen=True)
class Excluded:
    """Someone the run would not write to, and why (the decision's reason and detail)."""

    person: Person
    reason: str
    detail: str


@dataclass(frozen=True)
class Sample:
    """One message as the mail client would show it: headers, the HTML and the text part."""

    segment: str
    template: str
    locale: str
    candidate_id: int
    headers: tuple[tuple[str, str], ...]
    html: str
    text: str


@dataclass
class SegmentPreview:
    """One segment's counts (planned and each reason), its people and a message per template × locale."""

    name: str
    counts: Counter[str] = field(default_factory=Counter)
    recipients: list[Recipient] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)
    messages: dict[tuple[str, str], Sample] = field(default_factory=dict)


@dataclass
class CandidateAnswer:
    """What `--candidate` asked: their message, or why they get none."""

    candidate_id: int
    message: Sample | None = None
    why_not: str | None = None


@dataclass
class Preview:
    """The period, the instant it is decided at, and what the run would do, per segment."""

    cadence: str
    period_key: str
    instant: datetime  # the scheduled run's clock, in the team's zone
    segments: dict[str, SegmentPreview]
    tally: Tally
    chosen_segments: tuple[str, ...] | None = None
    candidate: CandidateAnswer | None = None

    def segment(self, name: str) -> SegmentPreview:
        return self.segments.setdefault(name, SegmentPreview(name))


def preview_period(
    resources: Resources, cadence: str, day: date | None = None, *,
    segments: tuple[str, ...] | None = None, candidate_id: int | None = None,
    now: datetime | None = None,
) -> Preview:
    """Decide the period that contains `day` (default: the next scheduled run after `now`)
    at its scheduled instant, and keep what each message would show. Writes nothing.

    Raises UnknownCadence and SegmentProblem (unknown segment) before reading anything.
    """
    settings = resources.settings
    known_cadence(cadence)
    if segments:
        resources.segments.check_selection(segments)
    zone = settings.zone
    instant = (scheduled_for(cadence, day, zone) if day is not None
               else next_scheduled(cadence, now or utcnow(), zone))
    key = period_key(cadence, instant.date())
    clock = instant.astimezone(UTC)
    spec = RunSpec(run_id=-next(_previews), cadence=cadence, period_key=key,
                   period_start=period_start(cadence, key), as_of=instant.date(), dry_run=True,
                   segments=segments or None, started_at=clock)
    preview = Preview(cadence, key, instant, {}, Tally(), spec.segments)
    with resources.engine.connect() as conn:
        bounds = ([(candidate_id - 1, candidate_id)] if candidate_id is not None
                  else extract.batch_bounds(conn, cadence, settings.batch_size))
    for lo, hi in bounds:
        _preview_batch(resources, spec, lo, hi, clock, preview, candidate_id)
    if candidate_id is not None:
        preview.candidate = _answer(resources, spec, preview, candidate_id)
    return preview


def _preview_batch(
    resources: Resources, spec: RunSpec, lo: int, hi: int, clock: datetime, preview: Preview,
    candidate_id: int | None,
) -> None:
    """One batch decided as the run decides it; recipients and exclusions kept, nothing written."""
    settings = resources.settings
    period = Period(spec.cadence, spec.period_key, spec.period_start)

    def keep(row: dict[str, Any], template: str, context: dict[str, Any],
             rendered: RenderedMessage) -> None:
        section = preview.segment(row["segment"])
        if len(section.recipients) < LIST_CAP:
            openings = tuple(" · ".join(str(opening[part]) for part in ("title", "company", "location")
                                        if opening.get(part)) for opening in context["openings"])
            section.recipients.append(Recipient(_person(row, settings), template, openings))
        wanted = (template, rendered.locale)
        if wanted not in section.messages or row["id"] == candidate_id:
            sample = _sample(row, template, rendered, context, period, settings, clock)
            if wanted not in section.messages:  # the first recipient (by id) shows each one
                section.messages[wanted] = sample
            if row["id"] == candidate_id:
                preview.candidate = CandidateAnswer(row["id"], message=sample)

    plan = BatchPlan(on_planned=keep)
    facts = read_facts(resources, spec, lo, hi, CADENCE, clock, plan.tally)
    if facts is None:
        return
    decide(resources, spec, facts, CADENCE, clock, plan)
    preview.tally.add(plan.tally)
    people = {row["id"]: row for row in facts.rows}
    for row in facts.rows:
        preview.segment(row["segment"])  # every segment met shows, even with nobody planned
    for name, counts in plan.tally.segments.items():
        preview.segment(name).counts.update(counts)
    for decision in plan.decisions:
        section = preview.segment(decision["segment"])
        if len(section.excluded) < LIST_CAP:
            person = _person(people[decision["candidate_id"]], settings)
            section.excluded.append(Excluded(person, decision["reason"], decision["detail"] or ""))


def _person(row: dict[str, Any], settings: Settings) -> Person:
    name = " ".join(part for part in (row["first_name"], row["last_name"]) if part)
    return Person(row["id"], row["external_id"], name, row["locale"] or "", zone_of(row, settings),
                  bool(row.get("privileged")), row["segment"])


def _sample(
    row: dict[str, Any], template: str, rendered: RenderedMessage, context: dict[str, Any],
    period: Period, settings: Settings, clock: datetime,
) -> Sample:
    """The message built as the run builds it (same MIME), then read back as a mail client does."""
    built = outgoing(0, row, rendered, context, period, settings, clock)
    mime = build_mime(built, settings.sender_address, settings.sender_name_for(built.locale))
    message = message_from_bytes(mime, policy=policy.default)
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    headers = tuple((name, str(value)) for name, value in message.items()
                    if name.lower() not in ("mime-version", "content-type"))
    return Sample(row["segment"], template, rendered.locale, row["id"], headers,
                  html.get_content() if html is not None else "",  # type: ignore[attr-defined]
                  text.get_content() if text is not None else "")  # type: ignore[attr-defined]


def _answer(resources: Resources, spec: RunSpec, preview: Preview, candidate_id: int) -> CandidateAnswer:
    """The asked-for candidate's message, else the reason the run gives, else why it never meets them."""
    if preview.candidate is not None:
        return preview.candidate
    for section in preview.segments.values():
        for excluded in section.excluded:
            if excluded.person.candidate_id == candidate_id:
                detail = f" ({excluded.detail})" if excluded.detail else ""
                return CandidateAnswer(candidate_id, why_not=f"{excluded.reason}{detail}")
    with resources.engine.connect() as conn:
        rows = extract.read_batch(conn, spec.cadence, candidate_id - 1, candidate_id)
        if rows:  # in the pool, outside the chosen segments
            segment = resources.segments.assign(rows[0])
            return CandidateAnswer(candidate_id, why_not=(
                f"in segment {segment}, not in {', '.join(spec.segments or ())}: drop --segment "
                "or name that segment"))
        person = conn.execute(
            select(Candidate.erased_at, extract.effective_cadence().label("cadence"))
            .outerjoin(Preference, Preference.candidate_id == Candidate.id)
            .where(Candidate.id == candidate_id)).first()
    if person is None:
        return CandidateAnswer(candidate_id, why_not="no such candidate")
    if person.erased_at is not None:
        return CandidateAnswer(candidate_id, why_not="erased: vivier never writes to them")
    return CandidateAnswer(candidate_id, why_not=(
        f"not in the {spec.cadence} pool: their cadence is {person.cadence} "
        f"(try vivier preview {person.cadence} --candidate {candidate_id})"))
