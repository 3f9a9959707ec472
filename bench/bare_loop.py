"""The baseline: the same weekly work as `nurture`, as one plain Python loop, without Prefect.

Read → validate (the same GX suite) → consent (the same policy) → render once (the same
Renderer) → build (`build_mime`) → send (the pipeline's own SMTP transport: one reused
connection, PIPELINING when offered) → record (bulk, per batch). One pass, no ledger claim
before sending: the least work that gives the same messages, so that the ratio measures what
the pipeline adds (Prefect, the ledger's claim-before-send, windows), not a slower transport.

    python -m bench.bare_loop 2026-11-23                 # settings from VIVIER_* (database, SMTP sink)
    python -m bench.bare_loop 2026-11-23 --connections 2 # batches on 2 threads, a connection each
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

started = time.perf_counter()
import great_expectations  # noqa: E402,F401  (as bench/pipeline.py: the import is not work)
from sqlalchemy import Engine, bindparam, insert  # noqa: E402

from bench.measure import report  # noqa: E402
from data_checks import validate_candidates  # noqa: E402
from vivier.messages.catalog import load_catalog  # noqa: E402
from vivier.messages.context import Period, outgoing, render_context  # noqa: E402
from vivier.messages.mime import HeaderInjection, build_mime  # noqa: E402
from vivier.messages.rendering import Renderer, TemplateProblem  # noqa: E402
from vivier.pipeline import extract, runs  # noqa: E402
from vivier.pipeline.plan import _frame  # noqa: E402  (the very frame the pipeline validates)
from vivier.rules.cadences import period_key, period_start  # noqa: E402
from vivier.rules.eligibility import CandidateFacts, Reason, exclusion  # noqa: E402
from vivier.rules.identity import email_hash  # noqa: E402
from vivier.rules.segments import load_segments  # noqa: E402
from vivier.settings import Settings, get_settings  # noqa: E402
from vivier.store import db  # noqa: E402
from vivier.store.schema import Candidate, Decision, Interaction, Send, utcnow  # noqa: E402
from vivier.transports import TransportSession, make_transport  # noqa: E402

CADENCE = "weekly"


class Tools:
    """What the loop compiles once: templates, segments, the period's openings and content."""

    def __init__(self, engine: Engine, settings: Settings, as_of: date) -> None:
        self.renderer = Renderer(settings.templates_dir, zone=settings.team_timezone)
        self.segments = load_segments(settings.segments_file)
        with engine.connect() as conn:
            self.catalog = load_catalog(conn, as_of, settings.zone)
        key = period_key(CADENCE, as_of)
        self.as_of = as_of
        self.period = Period(CADENCE, key, period_start(CADENCE, key))
        self.run_id = runs.open_run(engine, CADENCE, key, False, None)
        self.now = utcnow()  # one "now" per run, as the flow's RunSpec.started_at


def nurture_loop(engine: Engine, settings: Settings, as_of: date, connections: int = 1) -> dict[str, int]:
    """Message every eligible weekly candidate once; returns counts per outcome and reason.

    `connections` > 1: the batches run on that many threads, each with its own connection (the
    parallel gain the pipeline gets from VIVIER_SMTP_CONNECTIONS, measured without it)."""
    tools = Tools(engine, settings, as_of)
    transport = make_transport(settings)
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        bounds = extract.batch_bounds(conn, CADENCE, settings.batch_size)

    def batches(chosen: list[tuple[int, int]]) -> list[dict[str, int]]:
        with transport.open() as session:
            return [one_batch(engine, settings, tools, session, lo, hi) for lo, hi in chosen]

    shares = [bounds[start::connections] for start in range(connections)]
    with ThreadPoolExecutor(max_workers=connections) as pool:
        for done in pool.map(batches, shares):
            for batch in done:
                for name, number in batch.items():
                    counts[name] = counts.get(name, 0) + number
    runs.set_state(engine, tools.run_id, "completed", {"bare_loop": counts})
    return counts


def one_batch(
    engine: Engine, settings: Settings, tools: Tools, session: TransportSession, lo: int, hi: int
) -> dict[str, int]:
    now, period = tools.now, tools.period
    with engine.connect() as conn:
        rows = extract.read_batch(conn, CADENCE, lo, hi)
        consents = extract.latest_consents(conn, lo, hi)
        ledger = extract.ledger(conn, CADENCE, period.key, lo, hi)
        holders = extract.first_holders(conn, (row["email"] for row in rows if row["email"]))
        hashes = {row["id"]: email_hash(row["email"]) for row in rows if row["email"]}
        suppressed = extract.suppressed(conn, hashes.values())
    for row in rows:
        row["segment"] = tools.segments.assign(row)
        first = holders.get((row["email"] or "").lower())
        row["duplicate_of"] = first if first is not None and first != row["id"] else None
    findings = validate_candidates(_frame(rows), now)
    gap = timedelta(days=settings.contact_gap_days)

    counts = {"extracted": len(rows)}
    decisions: list[dict[str, Any]] = []
    sent: list[dict[str, Any]] = []
    for row in rows:
        candidate_id, detail = row["id"], ""
        reason: Reason | None
        if candidate_id in findings.failures:
            reason, detail = Reason.invalid_data, ",".join(findings.failures[candidate_id])
        else:
            held = ledger.get(candidate_id)
            reason = exclusion(CandidateFacts(
                candidate_id=candidate_id, erased=row["erased_at"] is not None,
                consent=consents.get(candidate_id), suppressed=hashes.get(candidate_id) in suppressed,
                frequency=row["frequency"], ledger_status=held.status if held else None,
                last_contacted_at=row["last_contacted_at"],
            ), now, gap)
        if reason is None:
            template = tools.segments.template(row["segment"], CADENCE)
            try:
                context = render_context(row, tools.catalog, settings, period, tools.as_of)
                rendered = tools.renderer.render(template, row["locale"] or "", context)
                message = outgoing(0, row, rendered, context, period, settings, utcnow())
                mime = build_mime(message, settings.sender_address, settings.sender_name)
            except (TemplateProblem, HeaderInjection) as problem:
                reason, detail = Reason.render_error, str(problem)
            else:
                session.send(message, mime)
                sent.append({"candidate_id": candidate_id, "segment": row["segment"],
                             "template": template, "version": rendered.template_version,
                             "message_id": message.message_id})
        if reason is not None:
            counts[reason.value] = counts.get(reason.value, 0) + 1
            decisions.append({
                "run_id": tools.run_id, "candidate_id": candidate_id, "cadence": CADENCE,
                "period_key": period.key, "segment": row["segment"], "reason": reason.value,
                "detail": detail or None, "dry_run": False, "decided_at": now,
            })
    counts["sent"] = len(sent)
    record(engine, tools, decisions, sent)
    return counts


def record(
    engine: Engine, tools: Tools, decisions: list[dict[str, Any]], sent: list[dict[str, Any]]
) -> None:
    """One transaction per batch: decisions, `sent` ledger rows, interactions, last contact."""
    now, key = utcnow(), tools.period.key
    with engine.begin() as conn:
        if decisions:
            conn.execute(insert(Decision), decisions)
        if not sent:
            return
        returning = insert(Send).returning(Send.id, Send.candidate_id, sort_by_parameter_order=True)
        ids = conn.execute(returning, [
            {"candidate_id": s["candidate_id"], "cadence": CADENCE, "period_key": key,
             "status": "sent", "run_id": tools.run_id, "segment": s["segment"],
             "template": s["template"], "template_version": s["version"],
             "message_id": s["message_id"], "attempts": 1, "created_at": now,
             "claimed_at": now, "sent_at": now}
            for s in sent
        ]).all()
        conn.execute(insert(Interaction), [
            {"candidate_id": candidate_id, "send_id": send_id, "kind": "message_sent",
             "cadence": CADENCE, "period_key": key, "occurred_at": now,
             "details": {"segment": s["segment"], "template": s["template"]}}
            for (send_id, candidate_id), s in zip(ids, sent, strict=True)
        ])
        people = Candidate.__table__
        conn.execute(
            people.update().where(people.c.id == bindparam("cid"))
            .values(last_contacted_at=now, updated_at=now),
            [{"cid": s["candidate_id"]} for s in sent],
        )


def main(argv: list[str]) -> None:
    settings = get_settings()
    as_of = date.fromisoformat(argv[0])
    imported = time.perf_counter()
    connections = int(argv[argv.index("--connections") + 1]) if "--connections" in argv else 1
    counts = nurture_loop(db.engine_for(settings.database_url), settings, as_of, connections)
    report({"import_seconds": imported - started, "work_seconds": time.perf_counter() - imported,
            "counts": counts})


if __name__ == "__main__":
    main(sys.argv[1:])
