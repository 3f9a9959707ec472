"""Many rows in one statement: PostgreSQL reads them as arrays (`unnest`) or JSON, SQLite as executemany.

psycopg's executemany sends one execution per row (each row's parameters adapted in Python):
a send window's record was ~30 executions for 8 messages. One array per column makes it one
execution whatever the row count; on the send path, where every microsecond is paid per
message, the window's rows travel as JSON texts (adapted in C, not element by element) in one
statement run on psycopg's own cursor (`raw_rows`, `raw_dicts`), prepared once per connection.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from psycopg.rows import dict_row
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Dialect,
    Engine,
    Select,
    String,
    Table,
    TypeDecorator,
    insert,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import TextClause

_PG = postgresql.dialect()


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def array_type(column: Column[Any]) -> str:
    """The PostgreSQL array type a column's values travel in (JSON travels as text, then cast)."""
    if isinstance(column.type, JSON):
        return "text[]"
    return f"{column.type.compile(dialect=_PG)}[]"


def unnest_from(table: Table, names: Sequence[str], alias: str = "given") -> str:
    """`unnest(CAST(:name AS type[]), …) AS alias(name, …)`: one row per array position."""
    arrays = ", ".join(f"CAST(:{name} AS {array_type(table.c[name])})" for name in names)
    return f"unnest({arrays}) AS {alias}({', '.join(names)})"


def columns_of(rows: Sequence[dict[str, Any]], names: Sequence[str], table: Table
               ) -> dict[str, list[Any]]:
    """The rows as one list per column; JSON values serialised (PostgreSQL casts them back)."""
    arrays: dict[str, list[Any]] = {}
    for name in names:
        values = [row[name] for row in rows]
        if isinstance(table.c[name].type, JSON):
            values = [None if value is None else json.dumps(value) for value in values]
        arrays[name] = values
    return arrays


Write = tuple[str, dict[str, Any]]  # one data-modifying SQL statement (PostgreSQL) and its parameters


def json_insert(table: Table, names: Sequence[str], param: str,
                constants: dict[str, str] | None = None, on_conflict_nothing: bool = False) -> str:
    """An INSERT, in psycopg's placeholders, of the rows in the JSON array `%(param)s` (each row
    an array of `names`' values in order), with each of `constants` (column -> parameter) taken
    from a scalar parameter; `on_conflict_nothing`: a row already there is kept, not an error.

    One JSON text is one parameter: psycopg adapts an array parameter element by element in
    Python (~25 µs for 8 values), a string in C, and PostgreSQL parses the JSON for next to
    nothing. JSON values are kept as the text the client wrote (`json`, not `jsonb`)."""
    picked = [_from_json(table, name, f"e->>{number}", f"e->{number}")
              for number, name in enumerate(names)]
    fixed = constants or {}
    picked += [_from_json(table, name, f"%({parameter})s", f"%({parameter})s")
               for name, parameter in fixed.items()]
    sql = (f"INSERT INTO {table.name} ({', '.join([*names, *fixed])}) SELECT {', '.join(picked)} "
           f"FROM json_array_elements(CAST(%({param})s AS json)) AS e")
    return sql + " ON CONFLICT DO NOTHING" if on_conflict_nothing else sql


def _from_json(table: Table, name: str, as_text: str, as_json: str) -> str:
    """A column's value read from JSON: text as it is (the column's own type checks its length),
    JSON as written, everything else cast from its text."""
    kind = table.c[name].type
    if isinstance(kind, JSON):
        return f"CAST({as_json} AS json)"
    if isinstance(kind, String):
        return as_text
    return f"CAST({as_text} AS {kind.compile(dialect=_PG)})"


def json_rows(rows: Sequence[Any]) -> str:
    """Rows (sequences of JSON-serialisable values, or single values) as one JSON text."""
    return json.dumps(rows)


def raw_dicts(conn: Connection, query: Select[*tuple[Any, ...]],
              params: dict[str, Any]) -> list[dict[str, Any]]:
    """PostgreSQL: a SELECT built once (its parameters bound by name, needing no conversion) on
    the driver's own cursor, its rows as dicts of the values SQLAlchemy would give (each column's
    TypeDecorator applied: aware UTC datetimes), at ~60% of the CPU of SQLAlchemy's rows."""
    sql, converts = _compiled(query, conn.dialect)
    cursor = conn.connection.driver_connection.cursor(row_factory=dict_row)  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params, prepare=True)
        rows: list[dict[str, Any]] = cursor.fetchall()
    finally:
        cursor.close()
    for key, convert in converts:
        for row in rows:
            if row[key] is not None:
                row[key] = convert(row[key], conn.dialect)
    return rows


@lru_cache(maxsize=16)
def _compiled(query: Select[*tuple[Any, ...]], dialect: Dialect) -> tuple[str, list[tuple[str, Any]]]:
    converts = [(str(column.key), column.type.process_result_value)
                for column in query.selected_columns if isinstance(column.type, TypeDecorator)]
    return query.compile(dialect=dialect).string, converts


def raw_rows(conn: Connection, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run one statement that returns rows on the driver's own cursor, prepared once per
    connection, and return them as tuples: for the send path's statement, run once per window,
    SQLAlchemy's own work per execution (compiled-cache lookup, result metadata, row objects)
    costs more than the rest. The cursor is kept with the connection for the next call."""
    driver = conn.connection.driver_connection
    cursor = conn.info.get(_CURSOR)
    if cursor is None or cursor.closed or cursor.connection is not driver:
        cursor = conn.info[_CURSOR] = driver.cursor()  # type: ignore[union-attr]
    cursor.execute(sql, params, prepare=True)
    return cursor.fetchall()  # type: ignore[no-any-return]


_CURSOR = "vivier.bulk.cursor"  # key of raw_rows' cursor in the connection's `info`


def insert_many(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT every row (all with the same keys) in one statement."""
    if not rows:
        return
    if not is_postgres(conn):
        conn.execute(insert(table), list(rows))
        return
    names = tuple(rows[0])
    conn.execute(_insert_statement(table, names), columns_of(rows, names, table))


@lru_cache(maxsize=64)
def _insert_sql(table: Table, names: tuple[str, ...]) -> str:
    """Built once per table and columns: compiling the types costs more than the insert."""
    selected = ", ".join(
        f"CAST({name} AS {table.c[name].type.compile(dialect=_PG)})"
        if isinstance(table.c[name].type, JSON) else name
        for name in names)
    return (f"INSERT INTO {table.name} ({', '.join(names)}) "
            f"SELECT {selected} FROM {unnest_from(table, names)}")


@lru_cache(maxsize=64)
def _insert_statement(table: Table, names: tuple[str, ...]) -> TextClause:
    return text(_insert_sql(table, names))


def refresh_statistics(engine: Engine, *tables: str) -> None:
    """ANALYZE these tables on PostgreSQL (a no-op elsewhere): after a plan wrote thousands of
    rows, the planner's statistics still describe the table before them, and the send path's
    statements (prepared once, run per window) would keep scanning it whole."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text(f"ANALYZE {', '.join(tables)}"))
