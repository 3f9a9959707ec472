"""ATS CSV imports: candidates upserted by ATS id, consent events appended once.

Every row is validated; good rows are imported, bad rows are reported with their line
number and reason (never the email or the names). A file that cannot be read at all
(missing, not UTF-8, required columns absent) raises `ImportFileError` and imports nothing.

Decisions worth knowing:
- A value starting with `=`, `+` or `@`, or with `-` followed by a non-digit, is rejected:
  spreadsheets run it as a formula when the data is exported again (CSV injection).
  `-5` or a lone `-` pass. SQL-looking text is just text: it is stored as given.
- CR, LF, tabs and other control characters inside a field are rejected.
- `first_name` and `last_name` must not be empty; email and names have the length
  limits of the run's data checks (`data_checks/candidates.py`), so an imported row is
  one a cadence run accepts.
- Dates are ISO 8601 (`2026-03-14` or `2026-03-14T09:30:00+01:00`); a date or a naive
  datetime is read in the team's time zone; a date in the future is rejected.
- A re-imported candidate keeps its suppression (suppressions are by email hash); an
  erased candidate is not re-imported, nor are consent events about them.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table, bindparam, insert, select, update

from vivier.rules.identity import email_hash
from vivier.settings import Settings
from vivier.store.schema import CONSENT_STATES, STATUSES, Candidate, Consent, Suppression, utcnow

CANDIDATE_COLUMNS = ("external_id", "email", "first_name", "last_name", "locale", "status")
CANDIDATE_OPTIONAL = ("city", "search_location", "expertise", "tags", "last_applied_at")
CONSENT_COLUMNS = ("external_id", "state", "recorded_at")
CONSENT_OPTIONAL = ("source", "evidence")
CHUNK_SIZE = 5_000
MAX_TAGS, MAX_TAG_LENGTH, MAX_EVIDENCE_LENGTH = 50, 64, 2_000
CANDIDATES = cast(Table, Candidate.__table__)
CONSENTS = cast(Table, Consent.__table__)
DEFAULT_ZONE = ZoneInfo(Settings.model_fields["team_timezone"].default)

# Same limits and email syntax as the run's data checks (data_checks/candidates.py).
MAX_LENGTHS = {"email": 254, "first_name": 100, "last_name": 100}
_ATOM = r"[^\s\x00-\x1f\x7f@<>()\[\],;:\"\\.]+"
EMAIL = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_ATOM}\.)+{_ATOM}\Z")
LOCALE = re.compile(r"^(fr|en)(?:[-_][A-Za-z]{2,3})?$", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
FORMULA = re.compile(r"^(?:[=+@]|-(?=\D))")


class ImportFileError(Exception):
    """The file cannot be read at all; the message says what to fix. Nothing was imported."""


class RowError(ValueError):
    """One row is wrong; the message is safe to show (no email, no names)."""


@dataclass(frozen=True)
class Rejection:
    """A row left out: its line in the file (header is line 1), ATS id, and why."""

    line: int
    external_id: str | None
    reason: str


@dataclass
class ImportReport:
    """What an import did: new rows, updated rows, skipped duplicates and rejected lines."""

    file: str
    imported: int = 0
    updated: int = 0
    skipped: int = 0
    suppressed_matches: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


def is_valid_email(email: str) -> bool:
    """The address syntax vivier accepts: one @, a dotted domain, a local part of 64 at most."""
    return len(email) <= 254 and bool(EMAIL.match(email)) and len(email.split("@")[0]) <= 64


def is_supported_locale(locale: str) -> bool:
    """fr or en, optionally with a region: `fr-CA`, `en_GB`."""
    return bool(LOCALE.match(locale))


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def _limit(column: str) -> int | None:
    return MAX_LENGTHS.get(column, getattr(CANDIDATES.c[column].type, "length", None))


def clean_text(record: dict[str, str], column: str, limit: int | None) -> str:
    """A field without surrounding spaces, refused if it carries control chars or a formula."""
    raw = record.get(column) or ""
    if CONTROL.search(raw):
        raise RowError(f"{column} contains a line break or control character: remove it")
    value = raw.strip()
    if FORMULA.match(value):
        raise RowError(f"{column} starts with {value[0]!r} like a spreadsheet formula "
                       "(formula injection): remove the leading character")
    if limit is not None and len(value) > limit:
        raise RowError(f"{column} is {len(value)} characters long; the limit is {limit}")
    return value


def parse_when(value: str, column: str, zone: tzinfo, now: datetime) -> datetime:
    """An ISO 8601 date or datetime, read in `zone` when it carries no offset; never future."""
    try:
        if len(value) == 10:
            when = datetime.combine(date.fromisoformat(value), time(), tzinfo=zone)
        else:
            when = datetime.fromisoformat(value)
            when = when if when.tzinfo else when.replace(tzinfo=zone)
    except ValueError:
        raise RowError(f"{column} {_shown(value)} is not an ISO 8601 date "
                       "(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS+01:00)") from None
    if when > now:
        raise RowError(f"{column} {value} is in the future")
    return when


def read_records(
    path: Path, required: tuple[str, ...], optional: tuple[str, ...], report: ImportReport
) -> Iterator[tuple[int, dict[str, str] | None]]:
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
                    "Nothing was imported.")
            repeated = sorted({name for name in columns if name and columns.count(name) > 1})
            if repeated:
                raise ImportFileError(f"{path.name} has column(s) {', '.join(repeated)} twice "
                                      "on line 1: keep one. Nothing was imported.")
            report.ignored_columns = [n for n in columns if n not in required + optional]
            last_line = reader.line_num
            for fields in reader:
                line, last_line = last_line + 1, reader.line_num
                if not any(value.strip() for value in fields):
                    continue  # blank line
                if len(fields) != len(columns):
                    at = columns.index("external_id") if "external_id" in columns else len(fields)
                    ats_id = fields[at].strip()[:64] if len(fields) > at else None
                    report.rejected.append(Rejection(line, ats_id, (
                        f"has {len(fields)} fields where the header has {len(columns)}: "
                        "check commas and quotes")))
                    yield line, None
                    continue
                yield line, dict(zip(columns, fields, strict=True))
        except csv.Error as exc:
            raise ImportFileError(f"{path.name} line {reader.line_num} is not valid CSV "
                                  f"({exc}). Nothing was imported.") from None


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
    if not row["first_name"]:
        raise RowError("first_name is empty")
    row["last_name"] = clean_text(record, "last_name", _limit("last_name"))
    if not row["last_name"]:
        raise RowError("last_name is empty")
    locale = clean_text(record, "locale", _limit("locale"))
    if not is_supported_locale(locale):
        raise RowError(f"unsupported locale {_shown(locale)}: use fr or en (fr-CA, en_GB…)")
    row["locale"] = locale
    status = clean_text(record, "status", _limit("status")).lower()
    if status not in STATUSES:
        raise RowError(f"unknown status {_shown(status)}: use {', '.join(STATUSES)}")
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
        for line, record in read_records(path, CANDIDATE_COLUMNS, CANDIDATE_OPTIONAL, report):
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


def consent_row(record: dict[str, str], zone: tzinfo, now: datetime) -> dict[str, Any]:
    """The `consents` values of one CSV row (candidate id still to resolve), or RowError."""
    state = clean_text(record, "state", 16).lower()
    if state not in CONSENT_STATES:
        raise RowError(f"unknown state {_shown(state)}: use {', '.join(CONSENT_STATES)}")
    recorded = clean_text(record, "recorded_at", None)
    if not recorded:
        raise RowError("recorded_at is empty")
    source = clean_text(record, "source", 64) or "ats_import"
    evidence_text = clean_text(record, "evidence", MAX_EVIDENCE_LENGTH)
    evidence: dict[str, Any] = {"note": evidence_text} if evidence_text else {}
    if evidence_text.startswith("{"):
        try:
            evidence = json.loads(evidence_text)
        except ValueError:
            evidence = {}
        if not isinstance(evidence, dict) or not evidence:
            raise RowError("evidence starts with '{' but is not a JSON object")
    return {"purpose": "nurturing", "state": state, "source": source, "evidence": evidence,
            "recorded_at": parse_when(recorded, "recorded_at", zone, now)}


def import_consents(
    engine: Engine, path: Path | str, zone: tzinfo = DEFAULT_ZONE, now: datetime | None = None
) -> ImportReport:
    """Append the consent events of an ATS CSV; an event already recorded is skipped."""
    path, now = Path(path), now or utcnow()
    report = ImportReport(file=path.name)
    load_per_candidate(engine, read_records(path, CONSENT_COLUMNS, CONSENT_OPTIONAL, report), report,
                       lambda record: consent_row(record, zone, now),
                       lambda connection, chunk: _append_consents(connection, chunk, report))
    return report


CandidateRows = list[tuple[int, str, dict[str, Any]]]  # (line, candidate's ATS id, values)


def load_per_candidate(
    engine: Engine, records: Iterator[tuple[int, dict[str, str] | None]], report: ImportReport,
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


def _append_consents(
    connection: Any, chunk: list[tuple[int, str, dict[str, Any]]], report: ImportReport
) -> None:
    """Resolve ATS ids, drop events already in the log, append the rest."""
    if not chunk:
        return
    candidates, consents = CANDIDATES, CONSENTS
    people = connection.execute(select(candidates.c.external_id, candidates.c.id,
                                       candidates.c.erased_at).where(
        candidates.c.external_id.in_({ats_id for _, ats_id, _ in chunk}))).all()
    ids = {person.external_id: person.id for person in people if person.erased_at is None}
    erased = {person.external_id for person in people if person.erased_at is not None}
    recorded = {(candidate_id, state, at.timestamp()) for candidate_id, state, at in
                connection.execute(select(consents.c.candidate_id, consents.c.state,
                                          consents.c.recorded_at).where(
                    consents.c.candidate_id.in_(set(ids.values())),
                    consents.c.purpose == "nurturing"))}
    fresh = []
    for line, ats_id, event in chunk:
        if ats_id in erased:
            report.rejected.append(Rejection(line, ats_id, (
                "candidate was erased: their consent is not recorded again "
                "(remove them from the ATS export)")))
            continue
        if ats_id not in ids:
            report.rejected.append(Rejection(line, ats_id, (
                "unknown candidate external_id: import candidates first "
                "(vivier import candidates FILE.csv)")))
            continue
        key = (ids[ats_id], event["state"], event["recorded_at"].timestamp())
        if key in recorded:
            report.skipped += 1
            continue
        recorded.add(key)
        fresh.append({**event, "candidate_id": ids[ats_id]})
    if fresh:
        connection.execute(insert(consents), fresh)
    report.imported += len(fresh)
