"""Deliver one batch: read a chunk, claim and send it window by window, record each window."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, update

from vivier.ledger import moves as ledger_moves
from vivier.ledger.moves import Claim, Recorded
from vivier.ledger.states import SendState
from vivier.messages.context import Period, outgoing, render_context, sender_domain
from vivier.messages.mime import HeaderInjection, build_mime, message_id_for
from vivier.messages.rendering import TemplateProblem
from vivier.messages.shown import NOTHING_SHOWN, items_of, shown_to
from vivier.pipeline import extract, guardrails
from vivier.pipeline.guardrails import DeliverabilityStop
from vivier.pipeline.resources import Resources
from vivier.pipeline.runs import RunSpec, RunTools
from vivier.pipeline.tally import Tally
from vivier.pipeline.timing import due
from vivier.rules.eligibility import Reason
from vivier.rules.identity import email_hash
from vivier.settings import Settings
from vivier.store.bulk import insert_many, json_insert, json_rows
from vivier.store.schema import Candidate, Decision, Interaction, SendItem, Suppression, utcnow
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
    with _windows(engine) as held:
        while chunk := _pending_unless_stopped(engine, spec, cursor, hi, settings.send_chunk_size,
                                               open_now):
            cursor = chunk[-1].candidate_id  # rows a concurrent run took are not read again
            with engine.connect() as conn:
                candidates = extract.read_candidates(conn, [row.candidate_id for row in chunk])
                shown = shown_to(conn, candidates)  # what earlier messages showed: never again
            for candidate_id, candidate in candidates.items():
                candidate["shown"] = shown.get(candidate_id, NOTHING_SHOWN)
            results = _send_chunk(resources, spec, chunk, candidates, session, tally, held)
            chunks += 1
            bounced = any(result.outcome is Outcome.hard_bounce for _, result, *_ in results)
            if bounced or chunks % BOUNCE_CHECK_EVERY == 0:  # provider bounces arrive in between
                with engine.connect() as conn:
                    if tripped := guardrails.bounce_problem(conn, spec.run_id, settings):
                        _stop(engine, spec, tripped)
    return tally


@contextmanager
def _windows(engine: Engine) -> Iterator[Connection | None]:
    """The connection a batch's send windows are recorded and claimed through, on PostgreSQL:
    held for the batch (no pool checkout, pre-ping, BEGIN and COMMIT per window) and in
    autocommit, since a window is one statement there, its own transaction, committed when it
    returns. Elsewhere None: each window is a transaction of several statements."""
    if engine.dialect.name != "postgresql":
        yield None
        return
    with engine.connect() as conn:
        yield conn.execution_options(isolation_level="AUTOCOMMIT")


def _send_chunk(
    resources: Resources, spec: RunSpec, chunk: list[Claim], candidates: dict[int, dict[str, Any]],
    session: TransportSession, tally: Tally, held: Connection | None,
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
        # One commit: the last window's answers, this one's claim.
        claims = _record(engine, held, spec, unrecorded, candidates, tally, wanted)
        unrecorded = []
        try:
            for claim in claims:
                unrecorded.append(_send_one(resources.settings, tools, spec, period, claim,
                                            candidates[claim.candidate_id], session))
        except BaseException:
            # Whatever stopped the window (transport gone, a setting no message can be built with,
            # a bug): record what was attempted and hand the rest back, never leave it `sending`.
            attempted = {claim.send_id for claim, *_ in unrecorded}
            with _windows(engine) as fresh:  # not `held`: what stopped may have broken it mid-call
                _record(engine, fresh, spec, unrecorded, candidates, tally)
            ledger_moves.release(engine, [c.send_id for c in claims if c.send_id not in attempted])
            raise
        every += unrecorded
    _record(engine, held, spec, unrecorded, candidates, tally)
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


def _quarantine(spec: RunSpec, results: list[Result], tally: Tally,
                candidates: dict[int, dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Messages that could not be rendered: a `render_error` decision each, as planning writes
    (candidate id, segment, reason, detail, privileged, dry run)."""
    reason = Reason.render_error.value
    rows: list[tuple[Any, ...]] = []
    for claim, _, _, problem in results:
        if problem is None:
            continue
        rows.append((claim.candidate_id, claim.segment, reason, problem,
                     bool(candidates[claim.candidate_id].get("privileged")), False))
        tally.reasons[reason] += 1
        tally.segment(claim.segment or "default")[reason] += 1
        tally.quarantine(claim.candidate_id, reason, problem[:200])
    return rows


_STATUS = {Outcome.sent: SendState.sent, Outcome.failed: SendState.failed,
           Outcome.hard_bounce: SendState.failed, Outcome.in_doubt: SendState.in_doubt}
_NAMES = {outcome: outcome.value for outcome in Outcome}  # counted as plain strings, read once


def _record(
    engine: Engine, held: Connection | None, spec: RunSpec, results: list[Result],
    candidates: dict[int, dict[str, Any]], tally: Tally,
    claim_next: dict[int, str | None] | None = None,
) -> list[Claim]:
    """In one transaction: ledger statuses, interactions, what was shown, last contact, bounces,
    render errors; then claims `claim_next` (send id -> Message-ID) and returns the rows taken.

    On PostgreSQL (`held`) the window's writes and the next claim are one statement
    (`record_and_claim`), its rows as JSON."""
    claim_next = claim_next or {}
    if not results and not claim_next:
        return []
    now = utcnow()
    outcomes: list[Recorded] = []
    events: list[tuple[int, int, str, dict[str, Any]]] = []  # candidate, send, kind, details
    items: list[tuple[int, str, int]] = []  # send, kind, item
    contacted: list[int] = []
    bounced: list[str] = []  # email hashes
    for claim, result, message_id, _ in results:
        outcome = result.outcome
        name = _NAMES[outcome]
        tally.stages[name] += 1
        tally.segment(claim.segment or "default")[name] += 1
        sent = outcome is Outcome.sent
        outcomes.append((claim.send_id, _STATUS[outcome], message_id, result.detail or None, sent))
        if sent:
            contacted.append(claim.candidate_id)
            showing = candidates[claim.candidate_id].get("showing", ())
            items += [(claim.send_id, kind, item_id) for kind, item_id in dict.fromkeys(showing)]
            events.append((claim.candidate_id, claim.send_id, "message_sent",
                           {"segment": claim.segment, "template": claim.template}))
            continue
        if outcome in (Outcome.failed, Outcome.hard_bounce):
            tally.failures[(result.detail or name)[:120]] += 1
        if outcome is Outcome.hard_bounce:
            events.append((claim.candidate_id, claim.send_id, "bounced",
                           {"type": "hard", "code": result.smtp_code}))
            bounced.append(email_hash(candidates[claim.candidate_id]["email"]))
    decisions = _quarantine(spec, results, tally, candidates)
    if held is not None:
        return ledger_moves.record_and_claim(
            held, outcomes, spec.run_id, spec.flow_run_id, claim_next, now, [
                (_EVENTS_PG, {"events": json_rows(events), "cadence": spec.cadence,
                              "period_key": spec.period_key}),
                (_ITEMS_PG, {"items": json_rows(items)}),
                (_CONTACTED_PG, {"contacted": json_rows(contacted)}),
                (_DECISIONS_PG, {"decisions": json_rows(decisions)}),
                (_BOUNCED_PG, {"bounced": json_rows([(hashed, "hard_bounce", "smtp")
                                                       for hashed in bounced])}),
            ])
    constants = {"cadence": spec.cadence, "period_key": spec.period_key}
    with engine.begin() as conn:
        ledger_moves.record(conn, [
            {"send_id": send_id, "new_status": status, "message_id": message_id, "error": error,
             "sent_at": now if sent else None}
            for send_id, status, message_id, error, sent in outcomes])
        insert_many(conn, _INTERACTIONS, [
            {**dict(zip(_EVENT_COLUMNS, event, strict=True)), **constants, "flow_run_id": spec.flow_run_id,
             "occurred_at": now} for event in events])
        add_send_items(conn, [dict(zip(_ITEM_COLUMNS, item, strict=True)) for item in items])
        if contacted:  # one statement, whatever the window's size
            # `updated_at` stays: it dates changes of the candidate's data, which a rerun re-plans
            # (vivier.pipeline.incremental); a contact is dated by last_contacted_at.
            conn.execute(update(Candidate).where(one_of(Candidate.id, contacted))
                         .values(last_contacted_at=now, updated_at=Candidate.updated_at))
        insert_many(conn, _DECISIONS, [
            {**dict(zip(_DECISION_COLUMNS, row, strict=True)), **constants, "run_id": spec.run_id,
             "decided_at": now} for row in decisions])
        add_suppressions(conn, [{"email_hash": hashed, "reason": "hard_bounce", "source": "smtp",
                                 "created_at": now} for hashed in bounced])
        return ledger_moves.claim(conn, spec.run_id, spec.flow_run_id, claim_next)


_INTERACTIONS = cast(Table, Interaction.__table__)
_DECISIONS = cast(Table, Decision.__table__)
_EVENT_COLUMNS = ("candidate_id", "send_id", "kind", "details")
_ITEM_COLUMNS = ("send_id", "kind", "item_id")
_DECISION_COLUMNS = ("candidate_id", "segment", "reason", "detail", "privileged", "dry_run")
# The window's other writes on PostgreSQL, in record_and_claim's statement (its `now`,
# `run_id` and `flow_run_id` parameters are theirs too).
_EVENTS_PG = json_insert(_INTERACTIONS, _EVENT_COLUMNS, "events", {
    "cadence": "cadence", "period_key": "period_key", "flow_run_id": "flow_run_id",
    "occurred_at": "now"})
# A resent message may show items it showed before: kept once (as add_send_items does).
_ITEMS_PG = json_insert(cast(Table, SendItem.__table__), _ITEM_COLUMNS, "items",
                        on_conflict_nothing=True)
_DECISIONS_PG = json_insert(_DECISIONS, _DECISION_COLUMNS, "decisions", {
    "run_id": "run_id", "cadence": "cadence", "period_key": "period_key", "decided_at": "now"})
# An address already suppressed keeps its first reason (as add_suppressions does).
_BOUNCED_PG = json_insert(cast(Table, Suppression.__table__), ("email_hash", "reason", "source"),
                          "bounced", {"created_at": "now"}, on_conflict_nothing=True)
# `updated_at` stays (see the SQLite branch of _record).
_CONTACTED_PG = ("UPDATE candidates SET last_contacted_at = CAST(%(now)s AS TIMESTAMP WITH TIME ZONE) "
                 "WHERE id IN (SELECT CAST(value AS BIGINT) "
                 "FROM json_array_elements_text(CAST(%(contacted)s AS json)))")
