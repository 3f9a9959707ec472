"""Rows about candidates (by ATS id) written in chunks, in one transaction per file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from vivier.imports.report import ImportReport, Rejection, RowError
from vivier.imports.rows import Rows

CHUNK_SIZE = 5_000
CandidateRows = list[tuple[int, str, dict[str, Any]]]  # (line, candidate's ATS id, values)


def load_per_candidate(
    engine: Engine, records: Rows, report: ImportReport,
    row_of: Callable[[dict[str, str]], dict[str, Any]],
    write: Callable[[Any, CandidateRows], None],
) -> None:
    """Rows about a candidate (by ATS id): parsed by `row_of`, written in chunks by `write`, all at once."""
    chunk: CandidateRows = []
    with engine.begin() as connection:
        for line, record in records:
            if record is None:
                continue
            ats_id = (record.get("external_id") or "").strip()[:64]
            try:
                if not ats_id:
                    raise RowError("external_id is empty")
                chunk.append((line, ats_id, row_of(record)))
            except RowError as exc:
                report.rejected.append(Rejection(line, ats_id or None, str(exc)))
            if len(chunk) == CHUNK_SIZE:
                write(connection, chunk)
                chunk = []
        write(connection, chunk)
    report.rejected.sort(key=lambda rejection: rejection.line)
