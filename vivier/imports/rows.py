"""The rows of an import file, CSV or JSON Lines (chosen by the extension), as text fields.

JSON Lines: one object per line; its values must be text, numbers or null (null reads as an
empty field), so one row parser serves both formats. A line that is not a JSON object, or
that lacks a required field, is rejected with its line number like a malformed CSV row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from vivier.imports.people import ImportReport, Rejection, check_utf8, read_records

JSONL_SUFFIXES = (".jsonl", ".ndjson")
Rows = Iterator[tuple[int, dict[str, str] | None]]


def read_rows(path: Path, required: tuple[str, ...], optional: tuple[str, ...],
              report: ImportReport) -> Rows:
    """(line, fields by name) per row; None (already rejected) for a malformed row."""
    if path.suffix.lower() in JSONL_SUFFIXES:
        return read_jsonl_records(path, required, optional, report)
    return read_records(path, required, optional, report)


def read_jsonl_records(path: Path, required: tuple[str, ...], optional: tuple[str, ...],
                       report: ImportReport) -> Rows:
    """(line, fields by name) per JSON object line; blank lines are skipped."""
    check_utf8(path)
    ignored: dict[str, None] = {}
    with path.open(encoding="utf-8-sig") as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            fields, reason = _fields(text, required)
            if fields is None:
                report.rejected.append(Rejection(line, None, reason))
                yield line, None
                continue
            ignored.update(dict.fromkeys(name for name in fields if name not in required + optional))
            report.ignored_columns = list(ignored)
            yield line, fields


def _fields(text: str, required: tuple[str, ...]) -> tuple[dict[str, str] | None, str]:
    """The line's object as text fields, or None and why it cannot be read."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        return None, f"is not valid JSON (column {getattr(exc, 'colno', '?')}): one object per line"
    if not isinstance(value, dict):
        return None, "is not a JSON object: one {...} per line"
    fields: dict[str, str] = {}
    for name, item in value.items():
        if isinstance(item, bool) or not isinstance(item, str | int | float | None):
            return None, f"field {str(name)[:40]!r} must be text, a number or null"
        fields[str(name).strip().lower()] = "" if item is None else str(item)
    missing = [name for name in required if name not in fields]
    if missing:
        return None, f"lacks required field(s) {', '.join(missing)}"
    return fields, ""
