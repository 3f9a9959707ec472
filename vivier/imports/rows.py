"""The rows of an import file, CSV or JSON Lines (chosen by the extension), as text fields.

A file that cannot be read at all (missing, not UTF-8, not CSV, required columns absent)
raises `ImportFileError` and imports nothing (a `;`-separated file is told so); a malformed
row is rejected with its line. A quoted field running over several lines (a quote left
open swallows the lines after it) rejects each of those lines, the first saying why, so
that the counts add up: rows read = imported + updated + skipped + rejected.
JSON Lines: one object per line; its values must be text, numbers or null (null reads as an
empty field), so one row parser serves both formats. A line that is not a JSON object, or
that lacks a required field, is rejected with its line number like a malformed CSV row.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from vivier.imports.report import ImportFileError, ImportReport, Rejection, shown_id

JSONL_SUFFIXES = (".jsonl", ".ndjson")
Rows = Iterator[tuple[int, dict[str, str] | None]]


def read_rows(path: Path, required: tuple[str, ...], optional: tuple[str, ...],
              report: ImportReport) -> Rows:
    """(line, fields by name) per row; None (already rejected) for a malformed row."""
    if path.suffix.lower() in JSONL_SUFFIXES:
        return read_jsonl_records(path, required, optional, report)
    return read_csv_records(path, required, optional, report)


def read_csv_records(
    path: Path, required: tuple[str, ...], optional: tuple[str, ...], report: ImportReport
) -> Rows:
    """(line, fields by column) per data row; None (already rejected) for a malformed row."""
    check_utf8(path)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                raise ImportFileError(f"{path.name} is empty: the first line must be the header "
                                      f"({','.join(required + optional)})")
            columns = [name.strip().lower() for name in header]
            missing = [name for name in required if name not in columns]
            if missing:
                raise ImportFileError(
                    f"{path.name} lacks required column(s) {', '.join(missing)} on line 1; "
                    f"expected {','.join(required)} (optional: {','.join(optional)}). "
                    f"{_separator_hint(header)}Nothing was imported.")
            repeated = sorted({name for name in columns if name and columns.count(name) > 1})
            if repeated:
                raise ImportFileError(f"{path.name} has column(s) {', '.join(repeated)} twice "
                                      "on line 1: keep one. Nothing was imported.")
            report.ignored_columns = [n for n in columns if n not in required + optional]
            last_line = reader.line_num
            for fields in reader:
                line, last_line = last_line + 1, reader.line_num
                report.line = line
                if not any(value.strip() for value in fields):
                    continue  # blank line
                at = columns.index("external_id") if "external_id" in columns else len(fields)
                ats_id = shown_id(fields[at]) if len(fields) > at else None
                if last_line > line:
                    _reject_span(line, last_line, ats_id, report)
                    yield line, None
                    continue
                report.read += 1
                if len(fields) != len(columns):
                    report.rejected.append(Rejection(line, ats_id, (
                        f"has {len(fields)} fields where the header has {len(columns)}: "
                        "check commas and quotes")))
                    yield line, None
                    continue
                yield line, dict(zip(columns, fields, strict=True))
        except csv.Error as exc:
            raise ImportFileError(f"{path.name} line {reader.line_num} is not valid CSV "
                                  f"({exc}). Nothing was imported.") from None


def _separator_hint(header: list[str]) -> str:
    """A hint when the header looks `;`- or tab-separated (Excel's CSV in many locales)."""
    text = ",".join(header)
    for separator, name in ((";", "';'"), ("\t", "tabs")):
        if len(header) == 1 and separator in text:
            return (f"The header is separated by {name}, not commas: save the file as "
                    "'CSV UTF-8 (comma delimited)' or replace the separator with ','. ")
    return ""


def _reject_span(first: int, last: int, ats_id: str | None, report: ImportReport) -> None:
    """A row running from `first` to `last`: a quote left open (or a line break in quotes)."""
    report.read += last - first + 1
    report.rejected.append(Rejection(first, ats_id, (
        f"a quoted field opened on this line runs to line {last}: close the quote, or remove "
        f"the line break inside it (lines {first + 1}-{last} were read into this field)")))
    report.rejected += [Rejection(line, None, f"read into the quoted field opened on line {first}")
                        for line in range(first + 1, last + 1)]


def check_utf8(path: Path) -> None:
    """Refuse a file that is not UTF-8, naming the first bad line and byte."""
    offset = 0
    try:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ImportFileError(
                        f"{path.name} is not UTF-8: line {number}, byte {exc.start + 1} of the "
                        f"line (byte {offset + exc.start + 1} of the file, 0x{raw[exc.start]:02x})."
                        " Save it as UTF-8 (in Excel: "
                        "'CSV UTF-8') and import again. Nothing was imported.") from None
                offset += len(raw)
    except FileNotFoundError:
        raise ImportFileError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise ImportFileError(f"{path} is a folder, not a CSV file") from None
    except PermissionError:
        raise ImportFileError(f"cannot read {path}: permission denied") from None


def read_jsonl_records(path: Path, required: tuple[str, ...], optional: tuple[str, ...],
                       report: ImportReport) -> Rows:
    """(line, fields by name) per JSON object line; blank lines are skipped."""
    check_utf8(path)
    ignored: dict[str, None] = {}
    with path.open(encoding="utf-8-sig") as handle:
        for line, text in enumerate(handle, start=1):
            report.line = line
            if not text.strip():
                continue
            report.read += 1
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
    except RecursionError:
        return None, "nests JSON too deeply: one flat object per line"
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
