"""A run of a cadence for one period: its spec, its record in `runs`, the tools its batches use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from vivier.ledger import moves as ledger_moves
from vivier.messages.catalog import Catalog
from vivier.messages.rendering import Renderer
from vivier.rules.segments import Segments
from vivier.store.schema import Run, Send, utcnow


@dataclass(frozen=True)
class RunSpec:
    """What one run does; small and plain so it can travel to task runs and workers."""

    run_id: int
    cadence: str
    period_key: str
    period_start: date
    as_of: date
    dry_run: bool = False
    flow_run_id: str | None = None
    segments: tuple[str, ...] | None = None
    started_at: datetime | None = None  # the run's "now": every batch judges dates the same way
    clock: datetime | None = None  # the instant whose send windows count (demo, tests); else started_at
    # A whole-pool run: what it read before planning (the next rerun's basis once its plan
    # completes), and, for a rerun, the basis it re-plans from (vivier.pipeline.incremental).
    marks: dict[str, Any] | None = None
    basis: dict[str, Any] | None = None

    @property
    def send_clock(self) -> datetime:
        """The instant that decides which send windows are open for this run."""
        return self.clock or self.started_at or utcnow()


@dataclass
class RunTools:
    """What a batch renders with: the process's templates and segments, the run's catalog."""

    renderer: Renderer
    segments: Segments
    catalog: Catalog


def open_run(
    engine: Engine, cadence: str, period_key: str, dry_run: bool, flow_run_id: str | None,
    kind: str = "plan",
) -> int:
    with engine.begin() as conn:
        return int(conn.execute(
            insert(Run).returning(Run.id),
            {"cadence": cadence, "period_key": period_key, "dry_run": dry_run, "kind": kind,
             "flow_run_id": flow_run_id, "state": "planning", "started_at": utcnow(),
             "heartbeat_at": utcnow(), "summary": {}},
        ).scalar_one())


def set_state(engine: Engine, run_id: int, state: str, summary: dict[str, Any] | None = None) -> None:
    values: dict[str, Any] = {"state": state, "heartbeat_at": utcnow()}
    if state in ("completed", "failed", "planned"):
        values["finished_at"] = utcnow()
    if summary is not None:
        values["summary"] = summary
    with engine.begin() as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(**values))


def heartbeat(engine: Engine, run_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(heartbeat_at=utcnow()))


def release_plan(engine: Engine, run_id: int) -> None:
    """Drop the run's pending rows (nothing of them left): used when the run stops before sending."""
    ledger_moves.withdraw_run(engine, run_id)


def attempted(engine: Engine, run_id: int) -> int:
    """Messages of this run handed to the transport so far (sent, failed or in doubt)."""
    from sqlalchemy import func

    from vivier.ledger.states import ATTEMPTED

    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Send).where(
            Send.run_id == run_id, Send.status.in_([str(state) for state in ATTEMPTED]))) or 0)


def ledger_counts(engine: Engine, cadence: str, period_key: str) -> dict[str, int]:
    from sqlalchemy import func

    with engine.connect() as conn:
        rows = conn.execute(
            select(Send.status, func.count()).where(
                Send.cadence == cadence, Send.period_key == period_key
            ).group_by(Send.status)
        )
        return {status: int(count) for status, count in rows}
