"""ATS candidates from a CSV export, upserted by ATS id.

Every row is validated; good rows are imported, bad rows are reported with their line
number and reason (never the email or the names). Decisions worth knowing:
- Email, names, locale, status and lengths follow `vivier.rules.contact`, the rules the
  run's data checks apply, so an imported row is one a cadence run accepts;
  `first_name` and `last_name` must not be empty. Fields are cleaned as
  `vivier.imports.fields` says (no control characters, no formula, ISO 8601 dates).
- A re-imported candidate keeps its suppression (suppressions are by email hash); an
  erased candidate is not re-imported.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, insert, select, update

from vivier.imports.chunks import CHUNK_SIZE
from vivier.imports.fields import DEFAULT_ZONE, clean_text, parse_when, shown
from vivier.imports.report import ImportReport, Rejection, RowError
from vivier.imports.rows import read_csv_records
from vivier.rules.contact import (
    MAX_LENGTHS,
    STATUSES,
    SUPPORTED_LANGUAGES,
    has_visible_character,
    is_supported_locale,
    is_valid_email,
)
from vivier.rules.identity import email_hash
from vivier.store.schema import Candidate, Suppression, utcnow

CANDIDATE_COLUMNS = ("external_id", "email", "first_name", "last_name", "locale", "status")
CANDIDATE_OPTIONAL = ("city", "search_location", "expertise", "tags", "last_applied_at")
MAX_TAGS, MAX_TAG_LENGTH = 50, 64
CANDIDATES = cast(Table, Candidate.__table__)
LANGUAGES = " or ".join(SUPPORTED_LANGUAGES)  # "fr or en", for rejection reasons


def _limit(column: str) -> int | None:
    return MAX_LENGTHS.get(column, getattr(CANDIDATES.c[column].type, "length", None))


def candidate_row(record: dict[str, str], zone: tzinfo, now: datetime) -> dict[str, Any]:
    """The `candidates` values of one CSV row, or RowError saying what is wrong."""
    row: dict[str, Any] = {"external_id": clean_text(record, "external_id", _limit("external_id"))}
    if not row["external_id"]:
        raise RowError("external_id is empty")
    email = clean_text(record, "email", _limit("email"))
    if not is_valid_email(email):
        raise RowError("email is not a valid address" if email else "email is empty")
    row["email"] = email
    row["first_name"] = clean_text(record, "first_name", _limit("first_name"))
    if not has_visible_character(row["first_name"]):
        raise RowError("first_name is empty")
    row["last_name"] = clean_text(record, "last_name", _limit("last_name"))
    if not has_visible_character(row["last_name"]):
        raise RowError("last_name is empty")
    locale = clean_text(record, "locale", _limit("locale"))
    if not is_supported_locale(locale):
        raise RowError(f"unsupported locale {shown(locale)}: use {LANGUAGES} (fr-CA, en_GB…)")
    row["locale"] = locale
    status = clean_text(record, "status", _limit("status")).lower()
    if status not in STATUSES:
        raise RowError(f"unknown status {shown(status)}: use {', '.join(STATUSES)}")
    row["status"] = status
    for column in ("city", "search_location", "expertise"):
        if column in record:
            row[column] = clean_text(record, column, _limit(column)) or None
    if "tags" in record:
        tags = [tag.strip() for tag in clean_text(record, "tags", None).split(";")]
        row["tags"] = list(dict.fromkeys(tag for tag in tags if tag))
        if len(row["tags"]) > MAX_TAGS or any(len(t) > MAX_TAG_LENGTH for t in row["tags"]):
            raise RowError(f"tags: at most {MAX_TAGS} tags of {MAX_TAG_LENGTH} characters")
    if "last_applied_at" in record:
        applied = clean_text(record, "last_applied_at", None)
        row["last_applied_at"] = parse_when(applied, "last_applied_at", zone, now) \
            if applied else None
    return row


def import_candidates(
    engine: Engine, path: Path | str, zone: tzinfo = DEFAULT_ZONE, now: datetime | None = None
) -> ImportReport:
    """Upsert the candidates of an ATS CSV export by external_id; report rejected lines."""
    path, now = Path(path), now or utcnow()
    report = ImportReport(file=path.name)
    first_seen: dict[str, int] = {}
    chunk: list[tuple[int, dict[str, Any]]] = []
    with engine.begin() as connection:
        for line, record in read_csv_records(path, CANDIDATE_COLUMNS, CANDIDATE_OPTIONAL, report):
            if record is None:
                continue
            ats_id = (record.get("external_id") or "").strip()[:64] or None
            if ats_id is not None and ats_id in first_seen:
                report.rejected.append(Rejection(
                    line, ats_id, f"duplicate external_id: already on line {first_seen[ats_id]}"))
                continue
            if ats_id is not None:
                first_seen[ats_id] = line
            try:
                chunk.append((line, candidate_row(record, zone, now)))
            except RowError as exc:
                report.rejected.append(Rejection(line, ats_id, str(exc)))
            if len(chunk) == CHUNK_SIZE:
                _upsert_candidates(connection, chunk, report, now)
                chunk = []
        _upsert_candidates(connection, chunk, report, now)
    report.rejected.sort(key=lambda rejection: rejection.line)
    return report


def _upsert_candidates(
    connection: Any, chunk: list[tuple[int, dict[str, Any]]], report: ImportReport, now: datetime
) -> None:
    """Insert new ATS ids, update known ones, never touch an erased candidate."""
    if not chunk:
        return
    table = CANDIDATES
    known = {ats_id: erased_at for ats_id, erased_at in connection.execute(
        select(table.c.external_id, table.c.erased_at).where(
            table.c.external_id.in_([row["external_id"] for _, row in chunk])))}
    inserts, updates, hashes = [], [], []
    for line, row in chunk:
        ats_id = row["external_id"]
        if ats_id not in known:
            inserts.append(row)
        elif known[ats_id] is not None:
            report.rejected.append(Rejection(line, ats_id, (
                "candidate was erased: not re-imported (remove them from the ATS export)")))
            continue
        else:
            updates.append({**row, "b_external_id": ats_id, "updated_at": now})
        hashes.append(email_hash(row["email"]))
    if inserts:
        connection.execute(insert(table), inserts)
    if updates:
        # executemany: the SET clause is every column key of the parameter dicts
        statement = update(table).where(table.c.external_id == bindparam("b_external_id"))
        connection.execute(statement, updates)
    suppressed = set(connection.scalars(select(Suppression.email_hash).where(
        Suppression.email_hash.in_(set(hashes)))))
    report.suppressed_matches += sum(digest in suppressed for digest in hashes)
    report.imported += len(inserts)
    report.updated += len(updates)
