"""The later waves: what the hourly deliver sends once a candidate's send window opens.

A cadence run plans everyone and sends the first wave (the rows due at its clock). Every hour,
the deliver run of each cadence and period with rows now due does the rest, through the same
lifecycle (`carry_out`), claims, in-doubt handling and guardrails; only its "plan" differs:

1. claims older than the lease (a deliver run killed mid-window) go in doubt, as a cadence
   run's planning would put them; rows still waiting when their period's lateness limit passed
   *lapse* (`failed`, never sent); rows whose window closed unsent wait for their next window;
2. each batch *adopts* the due rows (a cadence run still at work keeps its own), and checks
   again what may have changed since they were planned — consent, suppression, the `none` pool,
   a pause, a reply, an application, erasure, leaving the cadence — withdrawing those rows with
   a decision, as a rerun would;
3. the adopted rows are delivered like any run's.
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Connection, select

from vivier.ledger import moves as ledger_moves
from vivier.ledger.states import SendState
from vivier.ledger.status import waiting_by_zone
from vivier.pipeline import extract, plan, runs
from vivier.pipeline.resources import Resources
from vivier.pipeline.run import Bound, carry_out_here, local_batches, new_summary
from vivier.pipeline.runs import RunSpec
from vivier.pipeline.summary import RunSummary
from vivier.pipeline.tally import Tally
from vivier.pipeline.timing import due
from vivier.rules.cadences import CADENCES, period_start, today_in
from vivier.rules.eligibility import Reason
from vivier.rules.send_window import Waves
from vivier.rules.zones import candidate_zone
from vivier.store.schema import Run, Send, utcnow

DELIVER = "deliver"  # runs.kind of a deliver run


@dataclass(frozen=True)
class Delivery:
    """One deliver run to carry out: its spec and the id ranges of its due rows."""

    spec: RunSpec
    bounds: list[Bound]
    waiting: dict[str, int]  # the period's rows still waiting after this hour, by zone


@dataclass
class Hour:
    """What one deliver hour found: its runs, and the rows that lapsed or wait for a new window."""

    moment: datetime
    deliveries: list[Delivery] = field(default_factory=list)
    lapsed: Counter[str] = field(default_factory=Counter)  # "cadence period" -> rows
    rescheduled: int = 0


def label(spec: RunSpec) -> str:
    """How a deliver run is named in summaries and artifact keys."""
    return f"{DELIVER}-{spec.cadence}".replace("_", "-")


def prepare(resources: Resources, moment: datetime, flow_run_id: str | None = None) -> Hour:
    """Lapse, reschedule missed windows, then open a deliver run per period with due rows."""
    engine, settings = resources.engine, resources.settings
    hour = Hour(moment)
    stale = utcnow() - timedelta(seconds=settings.claim_lease_seconds)
    with engine.begin() as conn:
        # A deliver run killed mid-window left claims: in doubt, never resent by themselves.
        ledger_moves.expire_claims(conn, list(conn.execute(select(Send.id).where(
            Send.status == str(SendState.sending), Send.claimed_at < stale)).scalars()))
        for cadence, key, _zone in ledger_moves.lapse(conn, moment):
            hour.lapsed[f"{cadence} {key}"] += 1
        cadences = list(conn.execute(select(Send.cadence).distinct().where(
            Send.status == str(SendState.pending))).scalars())
        for cadence in cadences:
            hour.rescheduled += _reschedule_missed(resources, conn, cadence, moment)
    busy = busy_runs(resources)
    for cadence in cadences:
        open_now = due(settings, cadence, moment)
        with engine.connect() as conn:
            keys = list(conn.execute(select(Send.period_key).distinct().where(
                Send.cadence == cadence, Send.status == str(SendState.pending),
                open_now.condition(), _not_busy(busy))).scalars())
        for key in sorted(keys):
            run_id = runs.open_run(engine, cadence, key, False, flow_run_id, kind=DELIVER)
            spec = RunSpec(run_id=run_id, cadence=cadence, period_key=key,
                           period_start=_period_start(cadence, key),
                           as_of=today_in(settings.zone, moment), flow_run_id=flow_run_id,
                           started_at=utcnow(), clock=moment)
            with engine.connect() as conn:
                waiting = waiting_by_zone(conn, cadence, key, moment)
            hour.deliveries.append(Delivery(spec, due_bounds(resources, spec, busy), waiting))
    return hour


def _period_start(cadence: str, key: str) -> date:
    """A cadence's period start; the consent survey's kinds are keyed by month."""
    return period_start(cadence if cadence in CADENCES else "monthly", key)


def busy_runs(resources: Resources, but: int | None = None) -> list[int]:
    """Runs at work now (not finished, heard from within the claim lease): their rows are theirs."""
    fresh = utcnow() - timedelta(seconds=resources.settings.claim_lease_seconds)
    with resources.engine.connect() as conn:
        return [run_id for run_id in conn.execute(select(Run.id).where(
            Run.finished_at.is_(None), Run.heartbeat_at > fresh)).scalars() if run_id != but]


def _not_busy(busy: list[int]):  # type: ignore[no-untyped-def]
    return Send.run_id.is_(None) | Send.run_id.not_in(busy or [-1])


def due_bounds(resources: Resources, spec: RunSpec, busy: list[int]) -> list[Bound]:
    """Id ranges `(lo, hi]` of about one batch of due rows each (ids only)."""
    open_now = due(resources.settings, spec.cadence, spec.send_clock)
    size = resources.settings.batch_size
    with resources.engine.connect() as conn:
        ids = list(conn.execute(select(Send.candidate_id).where(
            Send.cadence == spec.cadence, Send.period_key == spec.period_key,
            Send.status == str(SendState.pending), open_now.condition(), _not_busy(busy))
            .order_by(Send.candidate_id)).scalars())
    bounds, low = [], 0
    for edge in sorted({*ids[size - 1::size], *ids[-1:]}):
        bounds.append((low, edge))
        low = edge
    return bounds


def _reschedule_missed(resources: Resources, conn: Connection, cadence: str, moment: datetime) -> int:
    """Rows whose window closed while they waited (no deliver came): their next window."""
    settings = resources.settings
    missed = ledger_moves.missed_window(conn, cadence, due(settings, cadence, moment))
    if not missed:
        return 0
    people = extract.read_candidates(conn, [candidate_id for _, candidate_id in missed])
    waves = Waves(settings.send_hours(cadence), moment)
    ledger_moves.reschedule(conn, {
        send_id: waves.not_before(candidate_zone(people.get(candidate_id, {}), settings.team_timezone))
        for send_id, candidate_id in missed})
    return len(missed)


def _audience(resources: Resources, cadence: str) -> plan.Audience:
    from vivier.pipeline.survey_plan import survey_audience

    return plan.CADENCE if cadence in CADENCES else survey_audience(resources.settings)


def adopt_batch(resources: Resources, spec: RunSpec, lo: int, hi: int) -> Tally:
    """Take this period's due rows in `(lo, hi]` for the deliver run, and withdraw those whose
    candidate may no longer be messaged (as a rerun's planning would), each with a decision."""
    engine, settings = resources.engine, resources.settings
    with engine.begin() as conn:
        ledger_moves.adopt_due(conn, spec.run_id, spec.cadence, spec.period_key,
                               due(settings, spec.cadence, spec.send_clock), lo, hi,
                               busy_runs(resources, but=spec.run_id))
        adopted = dict(conn.execute(select(Send.candidate_id, Send.segment).where(
            Send.run_id == spec.run_id, Send.status == str(SendState.pending),
            Send.candidate_id > lo, Send.candidate_id <= hi)).all())
    checked = plan.BatchPlan()
    if not adopted:
        return checked.tally
    now = spec.started_at or utcnow()
    audience, tools = _audience(resources, spec.cadence), resources.tools(spec)
    facts = plan.read_facts(resources, spec, lo, hi, audience, now, Tally())
    rows = {row["id"]: row for row in (facts.rows if facts else [])}
    for candidate_id, segment in adopted.items():
        row = rows.get(candidate_id)
        reason: str | None = Reason.left_pool
        if row is not None and facts is not None:
            candidate = plan._candidate_facts(row, facts, None, audience, spec, tools)
            # Not the contact gap or the holdout: the run that planned them judged those.
            reason = audience.rule(replace(candidate, held_out=False, last_contacted_at=None),
                                   now, settings, spec.cadence)
        if reason is None:
            checked.tally.segment(segment or "default")["planned"] += 1
        else:
            plan._exclude(checked, spec, candidate_id, segment or "default", str(reason), "", now)
    checked.tally.stages["planned"] += len(adopted) - len(checked.decisions)
    plan.write_plan(engine, spec, checked)  # decisions, and those rows withdrawn
    return checked.tally


def deliver_due(resources: Resources, moment: datetime | None = None) -> tuple[Hour, list[RunSummary]]:
    """One deliver hour without Prefect: every period's due rows, each in a deliver run. A run
    that stops keeps its summary (outcome `failed`, with its notes); the others go on."""
    hour = prepare(resources, moment or utcnow())
    summaries = []
    for delivery in hour.deliveries:
        summary = opening_summary(delivery)
        batches = local_batches(resources, delivery.spec, partial(adopt_batch, resources, delivery.spec),
                                delivers_only=True)
        # A stop is stored with its notes (outcome failed); the next period goes on.
        with suppress(Exception):
            carry_out_here(resources, delivery.spec, summary, partial(list, delivery.bounds), batches,
                           time.monotonic())
        summaries.append(summary)
    return hour, summaries


def opening_summary(delivery: Delivery) -> RunSummary:
    """A deliver run's summary, knowing already what of its period still waits after it."""
    summary = new_summary(delivery.spec, label(delivery.spec))
    if delivery.waiting:
        summary.tally.waiting.update(delivery.waiting)
        summary.tally.stages["waiting"] += sum(delivery.waiting.values())
    return summary


def hour_markdown(hour: Hour, results: dict[str, dict[str, Any]], problems: list[str]) -> str:
    """The deliver hour at a glance: per period what left and what still waits; what lapsed."""
    lines = [f"# deliver {hour.moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC", "",
             "| period | sent | still waiting | outcome |", "|---|---:|---:|---|"]
    for name, summary in results.items():
        stages = summary.get("stages", {})
        lines.append(f"| {name} | {stages.get('sent', 0):,} | {stages.get('waiting', 0):,} | "
                     f"{summary.get('outcome', '?')} |")
    if not results:
        lines.append("| (nothing due this hour) | 0 | | |")
    if hour.lapsed:
        lines += ["", "Lapsed (their window came after the period's lateness limit: not sent): "
                  + ", ".join(f"{name} ×{count:,}" for name, count in sorted(hour.lapsed.items()))]
    if hour.rescheduled:
        lines += ["", f"{hour.rescheduled:,} message(s) missed their window (no deliver run came): "
                  "moved to their next one."]
    lines += [f"\n**Stopped:** {problem}" for problem in problems]
    return "\n".join(lines)
