"""What the ledger says about one cadence and period, and the audited in-doubt actions."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from vivier.store.schema import Decision, Interaction, Run, Send, utcnow


@dataclass
class PeriodStatus:
    cadence: str
    period_key: str
    ledger: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)  # decisions of the latest real run
    in_doubt: list[int] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)


def period_status(engine: Engine, cadence: str, period_key: str) -> PeriodStatus:
    status = PeriodStatus(cadence, period_key)
    with engine.connect() as conn:
        status.ledger = {s: int(n) for s, n in conn.execute(
            select(Send.status, func.count()).where(Send.cadence == cadence,
                                                    Send.period_key == period_key)
            .group_by(Send.status))}
        status.in_doubt = list(conn.execute(
            select(Send.candidate_id).where(Send.cadence == cadence, Send.period_key == period_key,
                                            Send.status == "in_doubt").order_by(Send.candidate_id)
        ).scalars())
        runs = conn.execute(
            select(Run.id, Run.flow_run_id, Run.state, Run.dry_run, Run.started_at, Run.finished_at)
            .where(Run.cadence == cadence, Run.period_key == period_key).order_by(Run.id))
        status.runs = [dict(row._mapping) for row in runs]
        latest = next((run["id"] for run in reversed(status.runs) if not run["dry_run"]), None)
        if latest is not None:
            status.reasons = {r: int(n) for r, n in conn.execute(
                select(Decision.reason, func.count()).where(Decision.run_id == latest)
                .group_by(Decision.reason))}
    return status


def resolve_in_doubt(
    engine: Engine, cadence: str, period_key: str, action: str, candidate_ids: list[int] | None = None
) -> list[int]:
    """`mark_sent`: the operator checked it arrived; `resend`: hand it back to the next run.

    Either way an interaction records who decided what, and when.
    """
    if action not in ("mark_sent", "resend"):
        raise ValueError(f"unknown in-doubt action {action!r}: use mark_sent or resend")
    now = utcnow()
    with engine.begin() as conn:
        query = select(Send.id, Send.candidate_id).where(
            Send.cadence == cadence, Send.period_key == period_key, Send.status == "in_doubt")
        if candidate_ids:
            query = query.where(Send.candidate_id.in_(candidate_ids))
        rows = conn.execute(query).all()
        if not rows:
            return []
        values: dict[str, Any] = (
            {"status": "sent", "sent_at": now, "error": "marked sent by an operator"}
            if action == "mark_sent"
            else {"status": "pending", "run_id": None, "claimed_at": None,
                  "error": "released for resend by an operator"}
        )
        conn.execute(update(Send).where(Send.id.in_([row.id for row in rows])).values(**values))
        conn.execute(insert(Interaction), [{
            "candidate_id": row.candidate_id, "send_id": row.id, "kind": f"in_doubt_{action}",
            "cadence": cadence, "period_key": period_key, "occurred_at": now,
            "details": {"operator": getpass.getuser(), "action": action},
        } for row in rows])
    return sorted(row.candidate_id for row in rows)
