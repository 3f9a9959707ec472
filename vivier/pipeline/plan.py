"""Plan one batch: extract, validate, apply the policy, render, and write the ledger + decisions.

The same steps serve every kind of run; an `Audience` says what differs: who is read, the
eligibility rule, the template, and whether segments filter and a holdout is drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pandas as pd
from sqlalchemy import Connection, Engine, Table

from vivier.ledger import moves as ledger_moves
from vivier.ledger.states import SendState
from vivier.messages.context import (
    Period,
    is_check_in,
    outgoing,
    render_context,
    select_items,
)
from vivier.messages.mime import build_mime
from vivier.messages.rendering import RenderedMessage, TemplateProblem
from vivier.messages.shown import NOTHING_SHOWN, shown_in_range, shown_to
from vivier.pipeline import extract, incremental
from vivier.pipeline.render_check import RenderCheck
from vivier.pipeline.resources import Resources
from vivier.pipeline.runs import RunSpec, RunTools
from vivier.pipeline.tally import Tally
from vivier.pipeline.timing import Timing
from vivier.rules.cadences import CADENCES
from vivier.rules.eligibility import (
    ApplicationFact,
    ApplicationPauses,
    CandidateFacts,
    Reason,
    application_hold,
    exclusion,
)
from vivier.rules.holdout import held_out
from vivier.rules.identity import email_hash
from vivier.settings import Settings
from vivier.store import files
from vivier.store.bulk import insert_many
from vivier.store.schema import Decision, Send, utcnow
from vivier.store.sql import one_of

SAMPLES_PER_RUN = 3
CHECK_COLUMNS = (
    "id", "external_id", "email", "first_name", "last_name", "locale", "status", "city",
    "search_location", "expertise", "last_applied_at", "last_contacted_at", "created_at",
)


@dataclass(frozen=True)
class Audience:
    """What a kind of run reads and decides; everything else in planning is shared."""

    read: Callable[[Connection, RunSpec, int, int, datetime], list[dict[str, Any]]]
    rule: Callable[[CandidateFacts, datetime, Settings, str], str | None]  # ..., cadence/kind
    template: Callable[[RunTools, str, str], str]  # (tools, segment, cadence) -> template folder
    holdout: bool = True


def application_pauses(settings: Settings) -> ApplicationPauses:
    """How long a hire, a rejection or a withdrawal keeps a candidate out of nurturing."""
    return ApplicationPauses(settings.hired_pause_months, timedelta(days=settings.after_process_days))


def _cadence_rule(facts: CandidateFacts, now: datetime, settings: Settings, cadence: str) -> str | None:
    return exclusion(facts, now, timedelta(days=settings.contact_gap_days),
                     timedelta(days=settings.reply_pause_days), application_pauses(settings))


CADENCE = Audience(
    read=lambda conn, spec, lo, hi, now: extract.read_batch(conn, spec.cadence, lo, hi),
    rule=_cadence_rule,
    template=lambda tools, segment, cadence: tools.segments.template(segment, cadence),
)


@dataclass
class BatchFacts:
    """Everything the decisions of one batch read from the database, read in one go."""

    rows: list[dict[str, Any]]  # the audience's candidates, with their segment (and duplicate_of)
    consents: dict[int, str]
    ledger: dict[int, Any]  # candidate id -> this period's send row
    email_hashes: dict[int, str]
    suppressed: set[str]
    replies: dict[int, datetime]
    applications: dict[int, list[ApplicationFact]] = field(default_factory=dict)
    pauses: dict[int, datetime] = field(default_factory=dict)  # candidate id -> active pause's end


@dataclass
class BatchPlan:
    """What planning decided for one batch: pending sends, decisions, expired claims, counts."""

    tally: Tally = field(default_factory=Tally)
    pending: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    gone_stale: list[int] = field(default_factory=list)
    # Sees each planned message as decided: (row, template, context, rendered). A preview keeps
    # what it shows with it; a run has none.
    on_planned: Callable[[dict[str, Any], str, dict[str, Any], RenderedMessage], None] | None = None


def plan_batch(
    resources: Resources, spec: RunSpec, lo: int, hi: int, audience: Audience = CADENCE,
    now: datetime | None = None,
) -> Tally:
    """Decide for every candidate in `(lo, hi]`; write decisions and (unless dry) pending sends."""
    now = now or spec.started_at or utcnow()  # one 'now' per run: every batch decides alike
    plan = BatchPlan()
    facts = read_facts(resources, spec, lo, hi, audience, now, plan.tally)
    if facts is None:
        return plan.tally
    decide(resources, spec, facts, audience, now, plan, samples=lo == 0)
    write_plan(resources.engine, spec, plan)
    return plan.tally


def read_facts(
    resources: Resources, spec: RunSpec, lo: int, hi: int, audience: Audience, now: datetime,
    tally: Tally,
) -> BatchFacts | None:
    """Read the batch's candidates and what decides about them; None when nobody is in range.

    An incremental rerun (`spec.basis`) reads only the candidates it plans again."""
    with resources.engine.connect() as conn:
        only = (sorted(incremental.replan_ids(conn, spec, resources.settings, lo, hi))
                if spec.basis is not None else None)
        rows = (audience.read(conn, spec, lo, hi, now) if only is None
                else extract.read_batch(conn, spec.cadence, lo, hi, only))
        if not rows:
            return None
        consents = extract.latest_consents(conn, lo, hi, only=only)
        ledger = extract.ledger(conn, spec.cadence, spec.period_key, lo, hi, only=only)
        holders = extract.first_holders(conn, (row["email"] for row in rows if row["email"]))
        hashes = {row["id"]: email_hash(row["email"]) for row in rows if row["email"]}
        suppressed = extract.suppressed(conn, hashes.values())
        replies = extract.recent_replies(
            conn, lo, hi, now - timedelta(days=resources.settings.reply_pause_days), only=only)
        applications = extract.applications(conn, lo, hi, only=only)
        # What earlier messages showed: never again.
        shown = shown_in_range(conn, lo, hi) if only is None else shown_to(conn, only)
        pauses = extract.active_pauses(conn, lo, hi, now, only=only)

    tally.stages["extracted"] += len(rows)
    for row in rows:
        row["segment"] = resources.segments.assign(row)
        row["shown"] = shown.get(row["id"], NOTHING_SHOWN)
    if spec.segments:
        chosen = [row for row in rows if row["segment"] in spec.segments]
        tally.stages["outside_segments"] += len(rows) - len(chosen)
        rows = chosen
    for row in rows:
        first = holders.get((row["email"] or "").lower())
        row["duplicate_of"] = first if first is not None and first != row["id"] else None
    return BatchFacts(rows, consents, ledger, hashes, set(suppressed), replies, applications, pauses)


def decide(
    resources: Resources, spec: RunSpec, facts: BatchFacts, audience: Audience, now: datetime,
    plan: BatchPlan, samples: bool = False, render_everyone: bool | None = None,
) -> None:
    """Validate, apply the audience's rule and render-check each candidate, into `plan`.

    The render check renders a sample of each template and language (`render_check`); a dry
    run renders everyone, and so does any caller that passes `render_everyone=True` (a preview).
    """
    settings, tools, tally = resources.settings, resources.tools(spec), plan.tally
    # Who already got this period's message is not checked again: on a rerun that is most of
    # the pool, and their data passed the checks in the run that sent it.
    unsettled = [row for row in facts.rows
                 if getattr(facts.ledger.get(row["id"]), "status", None) != SendState.sent]
    tally.stages["settled"] += len(facts.rows) - len(unsettled)
    findings = resources.validate(_frame(unsettled), now)
    tally.checks.update(findings.by_check)
    period = Period(spec.cadence, spec.period_key, spec.period_start)
    stale_before = now - timedelta(seconds=settings.claim_lease_seconds)
    timing = Timing(settings, spec)  # the send window in each candidate's own zone
    # Render once: delivery renders every message; planning a sample. A dry run renders everyone,
    # and so does a preview (it shows each planned message: `on_planned`).
    if render_everyone is None:
        render_everyone = spec.dry_run or plan.on_planned is not None
    render_check = RenderCheck(tools.renderer, everyone=render_everyone)

    for row in facts.rows:
        candidate_id, segment = row["id"], row["segment"]
        slot = timing.slot(row)
        detail = ""
        reason: str | None
        if candidate_id in findings.failures:
            reason, detail = Reason.invalid_data, ",".join(findings.failures[candidate_id])
        else:
            status = _ledger_status(facts.ledger.get(candidate_id), stale_before, plan.gone_stale)
            candidate = _candidate_facts(row, facts, status, audience, spec, tools)
            reason = audience.rule(candidate, now, settings, spec.cadence)
            if reason in (Reason.in_process, Reason.recently_hired):  # name the application
                hold = application_hold(candidate.applications, now, application_pauses(settings))
                detail = hold.describe() if hold else ""
        if reason is None and (late := timing.too_late(slot)):
            reason, detail = Reason.too_late, late
        if reason is None:
            selection = select_items(row, tools.catalog, spec.cadence, row["shown"])
            if selection.nothing_new and not _sends_when_empty(tools, segment, spec.cadence):
                reason = Reason.nothing_new  # nothing new, nothing sent
        if reason is None:
            template = audience.template(tools, segment, spec.cadence)
            locale = row["locale"] or ""
            context = None  # built only for a message the check renders (its links are signed)
            try:
                if render_check.renders(template, locale):
                    context = render_context(row, tools.catalog, settings, period, spec.as_of,
                                             row["shown"], selection=selection)
                checked = render_check.check(template, locale, context, candidate_id=candidate_id)
            except TemplateProblem as problem:
                reason, detail = Reason.render_error, str(problem)
            else:
                plan.pending.append({
                    "candidate_id": candidate_id, "cadence": spec.cadence,
                    "period_key": spec.period_key, "run_id": spec.run_id,
                    "flow_run_id": spec.flow_run_id, "segment": segment, "template": template,
                    "template_version": checked.template_version, "attempts": 0,
                    "created_at": now, "privileged": bool(row.get("privileged")), **slot.columns(),
                })
                tally.segment(segment)["planned"] += 1
                if timing.waits(slot):  # a later wave: the hourly deliver sends it
                    tally.stages["waiting"] += 1
                    tally.waiting[slot.zone] += 1
                if (plan.on_planned is not None and checked.rendered is not None
                        and context is not None):
                    plan.on_planned(row, template, context, checked.rendered)
                if (spec.dry_run and samples and checked.rendered is not None
                        and context is not None and len(tally.samples) < SAMPLES_PER_RUN):
                    tally.samples.append(
                        _write_sample(settings, spec, row, checked.rendered, context, now))
        if reason is not None:
            _exclude(plan, spec, candidate_id, segment, str(reason), detail, now,
                     bool(row.get("privileged")))
    tally.stages["invalid"] += tally.reasons[Reason.invalid_data.value]
    tally.stages["planned"] += len(plan.pending)


def _sends_when_empty(tools: RunTools, segment: str, cadence: str) -> bool:
    """Surveys, check-ins (the quarterly) and segments with `send_when_empty` go out regardless.

    An empty catalog is no exception: a feed outage must not bring back empty messages (the
    run says so in its notes, `vivier.pipeline.run.catalog_notes`)."""
    if cadence not in CADENCES or is_check_in(cadence):
        return True
    return any(each.send_when_empty for each in tools.segments.segments if each.name == segment)


def _ledger_status(held: Any, stale_before: datetime, gone_stale: list[int]) -> str | None:
    """This period's send status for the rules; a claim older than the lease counts as in doubt."""
    if held is None:
        return None
    if held.status == SendState.sending and (held.claimed_at is None or held.claimed_at < stale_before):
        gone_stale.append(held.id)
        return SendState.in_doubt
    return str(held.status)


def _candidate_facts(
    row: dict[str, Any], facts: BatchFacts, status: str | None, audience: Audience, spec: RunSpec,
    tools: RunTools,
) -> CandidateFacts:
    candidate_id = row["id"]
    return CandidateFacts(
        candidate_id=candidate_id,
        erased=row["erased_at"] is not None,
        consent=facts.consents.get(candidate_id),
        suppressed=facts.email_hashes.get(candidate_id) in facts.suppressed,
        frequency=row["frequency"],
        ledger_status=status,
        last_contacted_at=row["last_contacted_at"],
        last_reply_at=facts.replies.get(candidate_id),
        held_out=audience.holdout and held_out(
            candidate_id, spec.cadence, spec.period_key, tools.segments.holdout(row["segment"])),
        applications=tuple(facts.applications.get(candidate_id, ())),
        paused_until=facts.pauses.get(candidate_id),
    )


def _exclude(plan: BatchPlan, spec: RunSpec, candidate_id: int, segment: str, reason: str,
             detail: str, now: datetime, privileged: bool = False) -> None:
    plan.decisions.append({
        "run_id": spec.run_id, "candidate_id": candidate_id, "cadence": spec.cadence,
        "period_key": spec.period_key, "segment": segment, "reason": reason,
        "detail": detail or None, "dry_run": spec.dry_run, "decided_at": now,
        "privileged": privileged,
    })
    plan.tally.reasons[reason] += 1
    plan.tally.segment(segment)[reason] += 1
    if reason in (Reason.invalid_data, Reason.render_error):
        plan.tally.quarantine(candidate_id, reason, detail[:200])


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(
        [{column: row[column] for column in CHECK_COLUMNS} for row in rows],
        columns=list(CHECK_COLUMNS),
    )
    frame["duplicate_of"] = pd.array([row["duplicate_of"] for row in rows], dtype="Int64")
    return frame


def write_plan(engine: Engine, spec: RunSpec, plan: BatchPlan) -> None:
    """Decisions always; unless dry: expired claims, withdrawn rows and the pending sends."""
    with engine.begin() as conn:
        insert_many(conn, cast(Table, Decision.__table__), plan.decisions)
        if spec.dry_run:
            return
        ledger_moves.expire_claims(conn, plan.gone_stale)
        excluded = [row["candidate_id"] for row in plan.decisions]
        if excluded:
            # A pending row from an earlier, interrupted run must not outlive a new "no".
            ledger_moves.withdraw(conn, Send.cadence == spec.cadence,
                                  Send.period_key == spec.period_key, one_of(Send.candidate_id, excluded))
        ledger_moves.plan(conn, plan.pending)


def _write_sample(
    settings: Settings, spec: RunSpec, row: dict[str, Any], rendered: Any,
    context: dict[str, Any], now: datetime,
) -> str:
    folder = Path(settings.samples_dir) / f"{spec.cadence}-{spec.period_key}"
    folder.mkdir(parents=True, exist_ok=True)
    period = Period(spec.cadence, spec.period_key, spec.period_start)
    message = outgoing(0, row, rendered, context, period, settings, now)
    path = folder / f"candidate-{row['id']}.eml"
    path.unlink(missing_ok=True)  # a sample from an earlier dry run of this period
    sender_name = settings.sender_name_for(message.locale)
    files.write_private(path, build_mime(message, settings.sender_address, sender_name))
    return str(path)
