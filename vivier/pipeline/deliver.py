"""Deliver one batch: claim a chunk, send it through the transport, record what happened."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, bindparam, insert

from vivier.ledger import moves as ledger_moves
from vivier.ledger.moves import Claim
from vivier.ledger.states import SendState
from vivier.messages.context import Period, outgoing, render_context
from vivier.messages.mime import HeaderInjection, build_mime
from vivier.messages.rendering import TemplateProblem
from vivier.pipeline import extract, guardrails
from vivier.pipeline.guardrails import DeliverabilityStop
from vivier.pipeline.resources import Resources
from vivier.pipeline.runs import RunSpec
from vivier.pipeline.tally import Tally
from vivier.rules.identity import email_hash
from vivier.store.schema import Candidate, Interaction, utcnow
from vivier.store.sql import add_suppressions
from vivier.transports import Outcome, SendResult, TransportSession

BOUNCE_CHECK_EVERY = 10  # chunks between two bounce-rate readings when this batch saw none


def deliver_batch(
    resources: Resources, spec: RunSpec, lo: int, hi: int, session: TransportSession,
) -> Tally:
    """Send every pending row of this run in `(lo, hi]`, chunk by chunk, through `session`."""
    engine, settings, tools = resources.engine, resources.settings, resources.tools(spec)
    tally = Tally()
    period = Period(spec.cadence, spec.period_key, spec.period_start)
    with engine.connect() as conn:
        if problem := guardrails.complaint_problem(conn, utcnow(), settings):
            _stop(engine, spec, problem)
    chunks = 0
    while claims := _claim_unless_stopped(engine, spec, lo, hi, settings.send_chunk_size):
        with engine.connect() as conn:
            candidates = extract.read_candidates(conn, [claim.candidate_id for claim in claims])
        results: list[tuple[Claim, SendResult, str | None]] = []
        try:
            for claim in claims:
                candidate = candidates[claim.candidate_id]
                now = utcnow()
                if candidate["erased_at"] is not None or not candidate["email"]:
                    # Erased between claim and send: never write to what is left of them.
                    results.append((claim, SendResult(claim.send_id, Outcome.failed,
                                                      "candidate erased before sending"), None))
                    continue
                try:
                    context = render_context(candidate, tools.catalog, settings, period, spec.as_of)
                    rendered = tools.renderer.render(claim.template, candidate["locale"] or "", context)
                except TemplateProblem as problem:
                    results.append((claim, SendResult(claim.send_id, Outcome.failed, str(problem)), None))
                    continue
                try:
                    message = outgoing(claim.send_id, candidate, rendered, context, period, settings, now)
                    mime = build_mime(message, settings.sender_address, settings.sender_name)
                except HeaderInjection as problem:
                    results.append((claim, SendResult(claim.send_id, Outcome.failed, str(problem)), None))
                    continue
                results.append((claim, session.send(message, mime), message.message_id))
        except BaseException:
            # Whatever stopped the chunk (transport gone, a setting no message can be built with,
            # a bug): record what was attempted and hand the rest back, never leave it `sending`.
            attempted = {claim.send_id for claim, _, _ in results}
            _record(engine, spec, results, candidates, tally)
            ledger_moves.release(engine, [c.send_id for c in claims if c.send_id not in attempted])
            raise
        _record(engine, spec, results, candidates, tally)
        chunks += 1
        bounced = any(result.outcome is Outcome.hard_bounce for _, result, _ in results)
        if bounced or chunks % BOUNCE_CHECK_EVERY == 0:  # provider bounces arrive in between
            with engine.connect() as conn:
                if tripped := guardrails.bounce_problem(conn, spec.run_id, settings):
                    _stop(engine, spec, tripped)
    return tally


def _claim_unless_stopped(engine: Engine, spec: RunSpec, lo: int, hi: int, size: int) -> list[Claim]:
    with engine.connect() as conn:
        if reason := guardrails.stop_reason(conn, spec.run_id):
            raise DeliverabilityStop(reason)
    return ledger_moves.claim(engine, spec.run_id, spec.flow_run_id, lo, hi, size)


def _stop(engine: Engine, spec: RunSpec, problem: str) -> None:
    guardrails.stop_run(engine, spec.run_id, problem)
    raise DeliverabilityStop(problem)


_STATUS = {Outcome.sent: SendState.sent, Outcome.failed: SendState.failed,
           Outcome.hard_bounce: SendState.failed, Outcome.in_doubt: SendState.in_doubt}


def _record(
    engine: Engine, spec: RunSpec, results: list[tuple[Claim, SendResult, str | None]],
    candidates: dict[int, dict[str, Any]], tally: Tally,
) -> None:
    """One transaction per chunk: ledger statuses, interactions, last contact, bounces."""
    if not results:
        return
    now = utcnow()
    updates, interactions, contacted, bounced = [], [], [], []
    for claim, result, message_id in results:
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
            contacted.append({"cid": claim.candidate_id})
            interactions.append({**base, "kind": "message_sent",
                                 "details": {"segment": claim.segment, "template": claim.template}})
        elif result.outcome is Outcome.hard_bounce:
            interactions.append({**base, "kind": "bounced",
                                 "details": {"type": "hard", "code": result.smtp_code}})
            email = candidates[claim.candidate_id]["email"]
            bounced.append({"email_hash": email_hash(email), "reason": "hard_bounce",
                            "source": "smtp", "created_at": now})
    with engine.begin() as conn:
        ledger_moves.record(conn, updates)
        if interactions:
            conn.execute(insert(Interaction), interactions)
        if contacted:
            people = Candidate.__table__
            conn.execute(
                people.update().where(people.c.id == bindparam("cid"))
                .values(last_contacted_at=now, updated_at=now),
                contacted,
            )
        add_suppressions(conn, bounced)
