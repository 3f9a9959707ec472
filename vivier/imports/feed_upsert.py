"""Feed rows (openings, content) upserted by the feed's own id, in one transaction per file.

A row whose id is new is inserted (imported); one whose values differ from the stored ones
updates them (updated); one equal to what is stored changes nothing (skipped): importing the
same feed twice reports every row as skipped. A second row with an id already in the file is
rejected, naming the first line (a row rejected for another reason does not count as first).
Rows are parsed by the caller's `row_of`, which raises RowError with a reason safe to show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, bindparam, insert, select, update

from vivier.imports.chunks import load_in_chunks
from vivier.imports.fields import clean_text
from vivier.imports.report import (
    ImportReport,
    RowError,
)
from vivier.imports.rows import Rows

MAX_FEED_ID = 64  # `jobs.external_id` and `content.external_id`: longer is refused, never cut
FeedRows = list[tuple[int, dict[str, Any]]]


def feed_id_of(record: dict[str, str]) -> str:
    """The row's id in its feed, trimmed; RowError when empty, too long or a formula."""
    value = clean_text(record, "external_id", None)
    if not value:
        raise RowError("external_id is empty: give the feed's id of this item")
    if len(value) > MAX_FEED_ID:
        raise RowError(f"external_id is {len(value)} characters long; the limit is {MAX_FEED_ID} "
                       "(an id is never cut: it would name another item)")
    return value


def load_feed(
    engine: Engine, records: Rows, report: ImportReport, model: Any,
    row_of: Callable[[dict[str, str]], dict[str, Any]], adopt_by: str | None = None,
) -> None:
    """Parse each record with `row_of` (which sets `external_id`) and upsert it into `model`.

    `adopt_by`: a column by which a stored row without a feed id (loaded before feeds had
    ids) is taken over by the feed's row instead of a second copy being inserted.
    """
    table = cast(Table, model.__table__)
    first_lines: dict[str, int] = {}

    def parse(line: int, record: dict[str, str]) -> tuple[int, dict[str, Any]]:
        row = row_of(record)
        if row["external_id"] in first_lines:
            raise RowError(f"duplicate external_id: already on line {first_lines[row['external_id']]}")
        first_lines[row["external_id"]] = line  # only a row that parsed counts as the first
        return line, row

    load_in_chunks(engine, records, report, parse,
                   lambda connection, chunk: _upsert(connection, table, chunk, report, adopt_by))


def _upsert(connection: Connection, table: Table, chunk: FeedRows, report: ImportReport,
            adopt_by: str | None) -> None:
    """Insert new ids, update changed rows, count unchanged ones as skipped."""
    if not chunk:
        return
    columns = [table.c[name] for name in chunk[0][1]]
    stored = {row.external_id: row for row in connection.execute(
        select(table.c.id, *columns).where(
            table.c.external_id.in_([row["external_id"] for _, row in chunk])))}
    if adopt_by is not None:
        key = table.c[adopt_by]
        orphans = {getattr(row, adopt_by): row for row in connection.execute(
            select(table.c.id, *columns).where(
                table.c.external_id.is_(None),
                key.in_({row[adopt_by] for _, row in chunk})).order_by(table.c.id))}
        for _, row in chunk:
            if row["external_id"] not in stored and row[adopt_by] in orphans:
                stored[row["external_id"]] = orphans.pop(row[adopt_by])
    inserts, updates = [], []
    for _, row in chunk:
        known = stored.get(row["external_id"])
        if known is None:
            inserts.append(row)
        elif all(getattr(known, name) == value for name, value in row.items()):
            report.skipped += 1
        else:
            updates.append({**row, "b_id": known.id})
    if inserts:
        connection.execute(insert(table), inserts)
    if updates:
        # executemany: the SET clause is every column key of the parameter dicts
        connection.execute(update(table).where(table.c.id == bindparam("b_id")), updates)
    report.imported += len(inserts)
    report.updated += len(updates)
