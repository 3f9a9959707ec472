"""How long `decisions` are kept: VIVIER_DECISIONS_KEEP_MONTHS, the runs' counts for ever.

Every first run of a period writes one row per candidate it does not message (a weekly run of a
1M pool: ~145k rows), so the table would grow with the pool times the periods. Reruns add only
what they plan again (`incremental`). The monthly `retention` flow deletes rows older than the
setting; each run's counts per reason and segment stay in `runs.summary`, and `vivier why` says
when a period's decisions are past their keeping time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, func, select

from vivier.store.schema import Decision


def prune(engine: Engine, before: datetime, batch: int = 10_000) -> int:
    """Delete decisions decided before `before`, `batch` rows per transaction; returns how many."""
    removed = 0
    while True:
        with engine.begin() as conn:
            ids = list(conn.scalars(select(Decision.id).where(Decision.decided_at < before)
                                    .order_by(Decision.id).limit(batch)))
            if not ids:
                return removed
            conn.execute(delete(Decision).where(Decision.id.in_(ids)))
        removed += len(ids)


def oldest(engine: Engine) -> datetime | None:
    """When the oldest decision kept was made (None: there is none)."""
    with engine.connect() as conn:
        return conn.scalar(select(func.min(Decision.decided_at)))
