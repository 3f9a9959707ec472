"""Import rows written in chunks, in one transaction per file; rows about candidates by ATS id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from vivier.imports.erased import erased_among
from vivier.imports.report import (
    ImportReport,
    Rejection,
    RowError,
    shown_id,
    stopped_safely,
    unexpected,
)
from vivier.imports.rows import Rows
from vivier.rules.identity import ErasureKeys

T = TypeVar("T")
CHUNK_SIZE = 5_000
MAX_ATS_ID = 64  # `candidates.external_id`'s width: longer is refused, never cut (cut, it is another id)
CandidateRows = list[tuple[int, str, dict[str, Any]]]  # (line, candidate's ATS id, values)


def ats_id_of(record: dict[str, str]) -> str:
    """The row's ATS id, trimmed; RowError when empty or too long."""
    ats_id = (record.get("external_id") or "").strip()
    if not ats_id:
        raise RowError("external_id is empty")
    if len(ats_id) > MAX_ATS_ID:
        raise RowError(f"external_id is {len(ats_id)} characters long; the limit is {MAX_ATS_ID} "
                       "(an ATS id is never cut: it would name another candidate)")
    return ats_id


def load_in_chunks(
    engine: Engine, records: Rows, report: ImportReport,
    parse: Callable[[int, dict[str, str]], T], write: Callable[[Connection, list[T]], None],
) -> None:
    """Every import's loop, in one transaction: each record parsed by `parse` (a RowError, or
    any surprise, rejects that line without printing its values), written `CHUNK_SIZE` at a time
    by `write`. A failure outside a row stops it all: nothing is stored (`stopped_safely`)."""
    chunk: list[T] = []
    with stopped_safely(report), engine.begin() as connection:
        for line, record in records:
            if record is None:
                continue
            try:
                chunk.append(parse(line, record))
            except RowError as exc:
                report.rejected.append(Rejection(line, shown_id(record.get("external_id")), str(exc)))
            except Exception as exc:  # noqa: BLE001 - one row's surprise must not print its values
                report.rejected.append(Rejection(line, shown_id(record.get("external_id")),
                                                 unexpected(exc)))
            if len(chunk) == CHUNK_SIZE:
                write(connection, chunk)
                chunk = []
        if chunk:
            write(connection, chunk)
    report.rejected.sort(key=lambda rejection: rejection.line)


def load_per_candidate(
    engine: Engine, records: Rows, report: ImportReport,
    row_of: Callable[[dict[str, str]], dict[str, Any]],
    write: Callable[[Any, CandidateRows], None], keys: ErasureKeys,
) -> None:
    """Rows about a candidate (by ATS id): parsed by `row_of`, written in chunks by `write`, all at once.

    Rows whose ATS id is an erased person's (in any case) are rejected before `write`.
    """
    load_in_chunks(
        engine, records, report,
        lambda line, record: (line, ats_id_of(record), row_of(record)),
        lambda connection, chunk: write(connection, _not_erased(connection, chunk, report, keys)),
    )


def _not_erased(
    connection: Connection, chunk: CandidateRows, report: ImportReport, keys: ErasureKeys
) -> CandidateRows:
    """The chunk without the rows of erased people (rejected, saying when they were erased)."""
    erased = erased_among(connection, keys, "external_id", [ats_id for _, ats_id, _ in chunk])
    for line, ats_id, _ in chunk:
        if ats_id in erased:
            report.rejected.append(Rejection(line, ats_id, erased[ats_id].reason("ATS id")))
    return [row for row in chunk if row[1] not in erased]
