"""What the ledger says about one cadence and period; the operator's in-doubt actions are in `moves`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select

from vivier.ledger.moves import resolve_in_doubt
from vivier.ledger.states import SendState
from vivier.store.schema import Decision, Run, Send

__all__ = ["PeriodStatus", "period_status", "resolve_in_doubt"]


@dataclass
class PeriodStatus:
    cadence: str
    period_key: str
    ledger: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)  # decisions of the latest real run
    in_doubt: list[int] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)  # failed sends by reply code / reason
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
                                            Send.status == SendState.in_doubt).order_by(Send.candidate_id)
        ).scalars())
        status.failures = {str(error or "unknown"): int(n) for error, n in conn.execute(
            select(Send.error, func.count()).where(Send.cadence == cadence, Send.period_key == period_key,
                                                   Send.status == SendState.failed)
            .group_by(Send.error).order_by(func.count().desc()))}
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
