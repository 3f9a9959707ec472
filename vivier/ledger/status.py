"""What the ledger says about one cadence and period; the operator's in-doubt actions are in `moves`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from vivier.ledger.moves import resolve_in_doubt
from vivier.ledger.states import SendState
from vivier.store.schema import Decision, Run, Send, utcnow

__all__ = ["PeriodStatus", "period_status", "resolve_in_doubt", "waiting_by_zone"]


@dataclass
class PeriodStatus:
    cadence: str
    period_key: str
    ledger: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)  # decisions of the latest real run
    in_doubt: list[int] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)  # failed sends by reply code / reason
    runs: list[dict[str, Any]] = field(default_factory=list)
    waiting: dict[str, int] = field(default_factory=dict)  # pending rows whose window is ahead, by zone


def waiting_by_zone(conn: Connection, cadence: str, period_key: str, moment: datetime) -> dict[str, int]:
    """Pending rows of the period whose send window opens after `moment`, by time zone."""
    return {str(zone or "unknown"): int(n) for zone, n in conn.execute(
        select(Send.zone, func.count()).where(
            Send.cadence == cadence, Send.period_key == period_key,
            Send.status == SendState.pending, Send.not_before > moment)
        .group_by(Send.zone).order_by(Send.zone))}


def period_status(
    engine: Engine, cadence: str, period_key: str, moment: datetime | None = None,
) -> PeriodStatus:
    """The period's ledger, reasons, in-doubt ids, failures, runs, and what waits at `moment`."""
    status = PeriodStatus(cadence, period_key)
    with engine.connect() as conn:
        status.waiting = waiting_by_zone(conn, cadence, period_key, moment or utcnow())
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
            select(Run.id, Run.flow_run_id, Run.kind, Run.state, Run.dry_run, Run.started_at,
                   Run.finished_at)
            .where(Run.cadence == cadence, Run.period_key == period_key).order_by(Run.id))
        status.runs = [dict(row._mapping) for row in runs]
        latest = next((run["id"] for run in reversed(status.runs)
                       if not run["dry_run"] and run["kind"] == "plan"), None)
        if latest is not None:
            status.reasons = {r: int(n) for r, n in conn.execute(
                select(Decision.reason, func.count()).where(Decision.run_id == latest)
                .group_by(Decision.reason))}
    return status
