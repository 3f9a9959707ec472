"""Dialect-aware bulk statements that SQLAlchemy spells differently on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Boolean, Connection, String, bindparam, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from vivier.store.schema import Interaction, SendItem, Suppression


def _insert(conn: Connection, model: Any) -> Any:
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(model)


def add_suppressions(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert suppressions; an address already suppressed keeps its first reason."""
    if rows:
        conn.execute(_insert(conn, Suppression).on_conflict_do_nothing(), rows)


def add_send_items(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """What sent messages showed; a resent message (an in-doubt one, resent by an operator)
    may have shown the same items already: they are kept once."""
    if rows:
        conn.execute(_insert(conn, SendItem).on_conflict_do_nothing(), rows)


def record_events(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert interactions keyed by `event_key`, skipping keys already recorded; returns the new keys.

    A key a concurrent transaction inserts first is skipped by the insert yet returned as new:
    what callers do for a new event must be idempotent too. (No RETURNING: on psycopg it
    turns executemany into huge multi-VALUES statements that cost ~3x more to send.)
    """
    from sqlalchemy import select

    if not rows:
        return set()
    keys = [row["event_key"] for row in rows]
    known = set(conn.scalars(select(Interaction.event_key).where(one_of(Interaction.event_key, keys))))
    fresh = [row for row in rows if row["event_key"] not in known]
    if fresh:
        conn.execute(_insert(conn, Interaction).on_conflict_do_nothing(index_elements=["event_key"]),
                     fresh)
    return {row["event_key"] for row in fresh}


class _OneOf(ColumnElement[bool]):
    """`column IN (…)`, spelled `column = ANY(:array)` on PostgreSQL (see `one_of`)."""

    type = Boolean()
    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("array", InternalTraversal.dp_clauseelement),
        ("listed", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any] | QueryableAttribute[Any], values: list[Any]) -> None:
        column = column.expression if isinstance(column, QueryableAttribute) else column
        self.column = column
        item = column.type
        if item._isnull:  # e.g. func.lower(...): take the type of the values themselves
            item = literal(values[0]).type if values else String()
        self.array = bindparam(None, values, type_=postgresql.ARRAY(item))
        self.listed = column.in_(values)


@compiles(_OneOf)
def _listed(element: _OneOf, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.listed, **kw))


@compiles(_OneOf, "postgresql")
def _any_of_array(element: _OneOf, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(element.array, **kw)})"


def one_of(
    column: ColumnElement[Any] | QueryableAttribute[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """`column` is one of `values`: one array parameter on PostgreSQL, an IN list elsewhere.

    A 10,000-item IN list costs PostgreSQL (and psycopg) ~3x more than `= ANY(:array)`.
    """
    return _OneOf(column, list(values))
