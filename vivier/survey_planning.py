"""Plan one batch of a survey kind: the same ledger, checks, policy and rendering as a cadence.

Only the audience and the consent rule differ from `planning.plan_batch`; the decisions and
pending ledger rows are written by its `_write_plan`, and `delivery.deliver_batch` sends them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from data_checks import validate_candidates
from vivier import extract
from vivier.identity import email_hash
from vivier.messages import Period, render_context
from vivier.planning import _write_plan
from vivier.policy import CandidateFacts, Reason
from vivier.rendering import TemplateProblem
from vivier.runs import RunSpec, RunTools
from vivier.schema import Candidate, Preference, utcnow
from vivier.settings import Settings
from vivier.survey import TEMPLATES, audience, survey_exclusion
from vivier.tally import Tally


def plan_survey_batch(
    engine: Engine, settings: Settings, spec: RunSpec, lo: int, hi: int, tools: RunTools,
    now: datetime | None = None,
) -> Tally:
    """Decide for this kind's audience in `(lo, hi]`: decisions, and pending sends unless dry."""
    now = now or spec.started_at or utcnow()  # one 'now' per run, as in planning
    kind, tally = spec.cadence, Tally()
    with engine.connect() as conn:
        query = audience(kind, spec.period_key, now, settings, *extract.CANDIDATE_COLUMNS,
                         Preference.frequency, Preference.privileged)
        rows = [dict(row._mapping) for row in conn.execute(
            query.where(Candidate.id > lo, Candidate.id <= hi).order_by(Candidate.id))]
        if not rows:
            return tally
        consents = extract.latest_consents(conn, lo, hi)
        ledger = extract.ledger(conn, kind, spec.period_key, lo, hi)
        holders = extract.first_holders(conn, (row["email"] for row in rows if row["email"]))
        hashes = {row["id"]: email_hash(row["email"]) for row in rows if row["email"]}
        suppressed = extract.suppressed(conn, hashes.values())

    tally.stages["extracted"] += len(rows)
    for row in rows:
        row["segment"] = tools.segments.assign(row)
        first = holders.get((row["email"] or "").lower())
        row["duplicate_of"] = first if first is not None and first != row["id"] else None
    findings = validate_candidates(rows, now)
    tally.checks.update(findings.by_check)
    period = Period(kind, spec.period_key, spec.period_start)
    stale_before = now - timedelta(seconds=settings.claim_lease_seconds)
    gap = timedelta(days=settings.contact_gap_days)

    decisions: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    gone_stale: list[int] = []
    for row in rows:
        held = ledger.get(row["id"])
        status = held.status if held else None
        if held is not None and status == "sending" and (
                held.claimed_at is None or held.claimed_at < stale_before):
            gone_stale.append(held.id)
            status = "in_doubt"
        facts = CandidateFacts(
            candidate_id=row["id"], erased=False, consent=consents.get(row["id"]),
            suppressed=hashes.get(row["id"]) in suppressed, frequency=row["frequency"],
            ledger_status=status, last_contacted_at=row["last_contacted_at"],
        )
        reason, detail = survey_exclusion(kind, facts, now, gap), ""
        if row["id"] in findings.failures:
            reason, detail = Reason.invalid_data, ",".join(findings.failures[row["id"]])
        if reason is None:
            try:
                context = render_context(row, tools.catalog, settings, period, spec.as_of)
                rendered = tools.renderer.render(TEMPLATES[kind], row["locale"] or "", context)
            except TemplateProblem as problem:
                reason, detail = Reason.render_error, str(problem)
            else:
                pending.append(_pending(spec, row, rendered.template_version, now))
                tally.segment(row["segment"])["planned"] += 1
                continue
        decisions.append({
            "run_id": spec.run_id, "candidate_id": row["id"], "cadence": kind,
            "period_key": spec.period_key, "segment": row["segment"], "reason": str(reason),
            "detail": detail or None, "dry_run": spec.dry_run, "decided_at": now,
        })
        tally.reasons[str(reason)] += 1
        tally.segment(row["segment"])[str(reason)] += 1
        if reason in (Reason.invalid_data, Reason.render_error):
            tally.quarantine(row["id"], str(reason), detail[:200])

    tally.stages["invalid"] += tally.reasons[Reason.invalid_data.value]
    tally.stages["planned"] += len(pending)
    _write_plan(engine, spec, decisions, pending, gone_stale)
    return tally


def _pending(spec: RunSpec, row: dict[str, Any], version: str, now: datetime) -> dict[str, Any]:
    return {
        "candidate_id": row["id"], "cadence": spec.cadence, "period_key": spec.period_key,
        "status": "pending", "run_id": spec.run_id, "flow_run_id": spec.flow_run_id,
        "segment": row["segment"], "template": TEMPLATES[spec.cadence],
        "template_version": version, "attempts": 0, "created_at": now,
    }
