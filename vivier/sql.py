"""Dialect-aware bulk statements that SQLAlchemy spells differently on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.dialects import postgresql, sqlite

from vivier.schema import Interaction, Send, Suppression


def _insert(conn: Connection, model: Any) -> Any:
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(model)


def upsert_pending(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Plan rows as `pending` for this run; a row already claimed, sent or in doubt is left alone."""
    statement = _insert(conn, Send)
    statement = statement.on_conflict_do_update(
        index_elements=["candidate_id", "cadence", "period_key"],
        set_={
            "status": "pending",
            "run_id": statement.excluded.run_id,
            "flow_run_id": statement.excluded.flow_run_id,
            "segment": statement.excluded.segment,
            "template": statement.excluded.template,
            "template_version": statement.excluded.template_version,
            "error": None,
        },
        # Literal SQL: an expanding IN cannot sit in a many-row statement.
        where=text("sends.status IN ('pending', 'failed')"),
    )
    conn.execute(statement, rows)


def add_suppressions(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert suppressions; an address already suppressed keeps its first reason."""
    if rows:
        conn.execute(_insert(conn, Suppression).on_conflict_do_nothing(), rows)


def drop_pending(conn: Connection, *conditions: Any) -> None:
    """Withdraw pending ledger rows: deleted, unless an interaction points at them (then detached)."""
    from sqlalchemy import and_, delete, exists, select, update

    pending = and_(Send.status == "pending", *conditions)
    referenced = exists(select(Interaction.id).where(Interaction.send_id == Send.id))
    conn.execute(update(Send).where(pending, referenced)
                 .values(run_id=None, error="withdrawn from the plan"))
    conn.execute(delete(Send).where(pending, ~referenced))
