"""Deliver one batch: read a chunk, claim and send it window by window, record each window."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, update

from vivier.ledger import moves as ledger_moves
from vivier.ledger.moves import Claim
from vivier.ledger.states import SendState
from vivier.messages.context import Period, outgoing, render_context, sender_domain
from vivier.messages.mime import HeaderInjection, build_mime, message_id_for
from vivier.messages.rendering import TemplateProblem
from vivier.messages.shown import NOTHING_SHOWN, items_of, send_item_rows, shown_to
from vivier.pipeline import extract, guardrails
from vivier.pipeline.guardrails import DeliverabilityStop
from vivier.pipeline.resources import Resources
from vivier.pipeline.runs import RunSpec, RunTools
from vivier.pipeline.tally import Tally
from vivier.pipeline.timing import due
from vivier.rules.eligibility import Reason
from vivier.rules.identity import email_hash
from vivier.settings import Settings
from vivier.store.bulk import insert_many, insert_write, is_postgres
from vivier.store.schema import Candidate, Decision, Interaction, SendItem, utcnow
from vivier.store.sql import add_send_items, add_suppressions, one_of
from vivier.transports import Outcome, SendResult, TransportSession

BOUNCE_CHECK_EVERY = 10  # chunks between two bounce-rate readings when this batch saw none
# A claimed row, the transport's answer, its Message-ID, and why its message could not be
# rendered (None when it was): a render error is also a `render_error` decision.
Result = tuple[Claim, SendResult, str | None, str | None]


def deliver_batch(
    resources: Resources, spec: RunSpec, lo: int, hi: int, session: TransportSession,
) -> Tally:
    """Send every pending row of this run in `(lo, hi]` whose send window is open at the run's
    clock, chunk by chunk, through `session`; later waves wait for the hourly deliver."""
    engine, settings = resources.engine, resources.settings
    tally = Tally()
    open_now = due(settings, spec.cadence, spec.send_clock)
    with engine.connect() as conn:
        if problem := guardrails.complaint_problem(conn, utcnow(), settings):
            _stop(engine, spec, problem)
    chunks, cursor = 0, lo
    while chunk := _pending_unless_stopped(engine, spec, cursor, hi, settings.send_chunk_size, open_now):
        cursor = chunk[-1].candidate_id  # rows a concurrent run took are not read again
        with engine.connect() as conn:
            candidates = extract.read_candidates(conn, [row.candidate_id for row in chunk])
            shown = shown_to(conn, candidates)  # what earlier messages showed: never again
        for candidate_id, candidate in candidates.items():
            candidate["shown"] = shown.get(candidate_id, NOTHING_SHOWN)
        results = _send_chunk(resources, spec, chunk, candidates, session, tally)
        chunks += 1
        bounced = any(result.outcome is Outcome.hard_bounce for _, result, *_ in results)
        if bounced or chunks % BOUNCE_CHECK_EVERY == 0:  # provider bounces arrive in between
            with engine.connect() as conn:
                if tripped := guardrails.bounce_problem(conn, spec.run_id, settings):
                    _stop(engine, spec, tripped)
    return tally


def _send_chunk(
    resources: Resources, spec: RunSpec, chunk: list[Claim], candidates: dict[int, dict[str, Any]],
    session: TransportSession, tally: Tally,
) -> list[Result]:
    """Send a chunk window by window: one commit records a window's answers and claims the next.

    So a message is claimed (`sending`, committed) before it leaves and `sent` at most a window
    later, and a kill leaves in doubt only the window on the wire (`VIVIER_SEND_WINDOW`), not
    the chunk.
    """
    engine, size = resources.engine, resources.settings.send_window
    domain = sender_domain(resources.settings)
    tools = resources.tools(spec)  # once per chunk, not per message
    period = Period(spec.cadence, spec.period_key, spec.period_start)
    every: list[Result] = []
    unrecorded: list[Result] = []
    for start in range(0, len(chunk), size):
        wanted = {row.send_id: _message_id(spec, row.candidate_id, domain)
                  for row in chunk[start:start + size]}
        with engine.begin() as conn:  # one commit: the last window's answers, this one's claim
            claims = _record(conn, spec, unrecorded, candidates, tally, wanted)
        unrecorded = []
        try:
            for claim in claims:
                unrecorded.append(_send_one(resources.settings, tools, spec, period, claim,
                                            candidates[claim.candidate_id], session))
        except BaseException:
            # Whatever stopped the window (transport gone, a setting no message can be built with,
            # a bug): record what was attempted and hand the rest back, never leave it `sending`.
            attempted = {claim.send_id for claim, *_ in unrecorded}
            with engine.begin() as conn:
                _record(conn, spec, unrecorded, candidates, tally)
            ledger_moves.release(engine, [c.send_id for c in claims if c.send_id not in attempted])
            raise
        every += unrecorded
    with engine.begin() as conn:
        _record(conn, spec, unrecorded, candidates, tally)
    return every


def _message_id(spec: RunSpec, candidate_id: int, domain: str) -> str | None:
    """The Message-ID the row's message will carry (None: it cannot be built, the send fails)."""
    try:
        return message_id_for(spec.cadence, spec.period_key, candidate_id, domain)
    except HeaderInjection:
        return None


def _send_one(
    settings: Settings, tools: RunTools, spec: RunSpec, period: Period, claim: Claim,
    candidate: dict[str, Any], session: TransportSession,
) -> Result:
    """Render, build and hand over one claimed message; a problem of its own fails it alone."""
    if candidate["erased_at"] is not None or not candidate["email"]:
        # Erased between claim and send: never write to what is left of them.
        erased = SendResult(claim.send_id, Outcome.failed, "candidate erased before sending")
        return claim, erased, None, None
    try:
        context = render_context({**candidate, "segment": claim.segment}, tools.catalog, settings,
                                 period, spec.as_of, candidate["shown"])
        candidate["showing"] = items_of(context)  # recorded as shown once it is sent
        rendered = tools.renderer.render(claim.template, candidate["locale"] or "", context)
    except TemplateProblem as problem:  # this candidate's message only: it fails, the rest go
        return claim, SendResult(claim.send_id, Outcome.failed, str(problem)), None, str(problem)
    try:
        message = outgoing(claim.send_id, candidate, rendered, context, period, settings, utcnow())
        mime = build_mime(message, settings.sender_address, settings.sender_name_for(message.locale))
    except HeaderInjection as problem:
        return claim, SendResult(claim.send_id, Outcome.failed, str(problem)), None, None
    return claim, session.send(message, mime), message.message_id, None


def _pending_unless_stopped(engine: Engine, spec: RunSpec, lo: int, hi: int, size: int,
                            open_now: ledger_moves.Due) -> list[Claim]:
    with engine.connect() as conn:
        if reason := guardrails.stop_reason(conn, spec.run_id):
            raise DeliverabilityStop(reason)
    return ledger_moves.claimable(engine, spec.run_id, lo, hi, size, open_now)


def _stop(engine: Engine, spec: RunSpec, problem: str) -> None:
    guardrails.stop_run(engine, spec.run_id, problem)
    raise DeliverabilityStop(problem)


def _quarantine(conn: Connection, spec: RunSpec, results: list[Result], now: datetime,
                tally: Tally, candidates: dict[int, dict[str, Any]]) -> None:
    """Messages that could not be rendered: a `render_error` decision each, as planning writes."""
    reason = Reason.render_error.value
    rows: list[dict[str, Any]] = []
    for claim, _, _, problem in results:
        if problem is None:
            continue
        rows.append({"run_id": spec.run_id, "candidate_id": claim.candidate_id,
                     "cadence": spec.cadence, "period_key": spec.period_key,
                     "segment": claim.segment, "reason": reason, "detail": problem,
                     "privileged": bool(candidates[claim.candidate_id].get("privileged")),
                     "dry_run": False, "decided_at": now})
        tally.reasons[reason] += 1
        tally.segment(claim.segment or "default")[reason] += 1
        tally.quarantine(claim.candidate_id, reason, problem[:200])
    insert_many(conn, cast(Table, Decision.__table__), rows)


_STATUS = {Outcome.sent: SendState.sent, Outcome.failed: SendState.failed,
           Outcome.hard_bounce: SendState.failed, Outcome.in_doubt: SendState.in_doubt}


def _record(
    conn: Connection, spec: RunSpec, results: list[Result], candidates: dict[int, dict[str, Any]],
    tally: Tally, claim_next: dict[int, str | None] | None = None,
) -> list[Claim]:
    """In the caller's transaction: ledger statuses, interactions, what was shown, last contact,
    bounces; then claims `claim_next` (send id -> Message-ID) and returns the rows taken.

    On PostgreSQL the window's writes and the next claim are one statement (`record_and_claim`)."""
    claim_next = claim_next or {}
    if not results and not claim_next:
        return []
    now = utcnow()
    updates, interactions, bounced, items = [], [], [], []
    contacted: list[int] = []
    for claim, result, message_id, _ in results:
        status = _STATUS[result.outcome]
        tally.stages[result.outcome.value] += 1
        if result.outcome in (Outcome.failed, Outcome.hard_bounce):
            tally.failures[(result.detail or result.outcome.value)[:120]] += 1
        tally.segment(claim.segment or "default")[result.outcome.value] += 1
        updates.append({"send_id": claim.send_id, "new_status": status, "message_id": message_id,
                        "error": result.detail or None,
                        "sent_at": now if result.outcome is Outcome.sent else None})
        base = {"candidate_id": claim.candidate_id, "send_id": claim.send_id,
                "cadence": spec.cadence, "period_key": spec.period_key,
                "flow_run_id": spec.flow_run_id, "occurred_at": now}
        if result.outcome is Outcome.sent:
            contacted.append(claim.candidate_id)
            items += send_item_rows(claim.send_id, candidates[claim.candidate_id].get("showing", ()))
            interactions.append({**base, "kind": "message_sent",
                                 "details": {"segment": claim.segment, "template": claim.template}})
        elif result.outcome is Outcome.hard_bounce:
            interactions.append({**base, "kind": "bounced",
                                 "details": {"type": "hard", "code": result.smtp_code}})
            email = candidates[claim.candidate_id]["email"]
            bounced.append({"email_hash": email_hash(email), "reason": "hard_bounce",
                            "source": "smtp", "created_at": now})
    _quarantine(conn, spec, results, now, tally, candidates)
    add_suppressions(conn, bounced)
    if is_postgres(conn):
        return ledger_moves.record_and_claim(
            conn, updates, spec.run_id, spec.flow_run_id, claim_next, [
                insert_write(_INTERACTIONS, INTERACTION_COLUMNS, interactions, "event_"),
                # A resent message may show items it showed before: kept once (add_send_items).
                insert_write(_SEND_ITEMS, ("send_id", "kind", "item_id"), items, "item_",
                             on_conflict_nothing=True),
                (_CONTACTED, {"contacted": contacted, "contacted_at": now}),
            ])
    ledger_moves.record(conn, updates)
    insert_many(conn, _INTERACTIONS, interactions)
    add_send_items(conn, items)
    if contacted:  # one statement, whatever the window's size
        # `updated_at` stays: it dates changes of the candidate's data, which a rerun re-plans
        # (vivier.pipeline.incremental); a contact is dated by last_contacted_at.
        conn.execute(update(Candidate).where(one_of(Candidate.id, contacted))
                     .values(last_contacted_at=now, updated_at=Candidate.updated_at))
    return ledger_moves.claim(conn, spec.run_id, spec.flow_run_id, claim_next)


_INTERACTIONS = cast(Table, Interaction.__table__)
_SEND_ITEMS = cast(Table, SendItem.__table__)
INTERACTION_COLUMNS = ("candidate_id", "send_id", "cadence", "period_key", "flow_run_id",
                       "occurred_at", "kind", "details")
_CONTACTED = ("UPDATE candidates SET last_contacted_at = :contacted_at "
              "WHERE id = ANY(CAST(:contacted AS BIGINT[]))")
