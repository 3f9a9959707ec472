"""ATS candidates from a CSV export, upserted by ATS id.

Every row is validated; good rows are imported, bad rows are reported with their line
number and reason (never the email or the names). Decisions worth knowing:
- Email, names, locale, status and lengths follow `vivier.rules.contact`, the rules the
  run's data checks apply, so an imported row is one a cadence run accepts;
  `first_name` and `last_name` must not be empty. Fields are cleaned as
  `vivier.imports.fields` says (no control characters, no formula, ISO 8601 dates).
- An internationalised domain is stored in its ASCII form (IDNA: `exämple.fr` becomes
  `xn--exmple-cua.fr`), or the row is rejected when it is no valid domain name; zero-width
  characters, BOMs and bidirectional controls in an address are rejected.
- ATS ids and addresses compare without case: a second row with the same ATS id, or with an
  address another candidate of the file or the pool already holds, is rejected (a row
  rejected for another reason does not count as the first: its corrected copy is taken).
- `owner` is the owner recruiter's email address in the ATS (with their name, as they sign, in
  `owner_name`): they sign the messages of a privileged candidate; an empty cell clears it.
- `timezone`, optional, is an IANA zone (`America/Toronto`; case aside): an unknown one rejects
  the row; empty, the zone follows where they search or their city (`vivier.rules.zones`).
- A re-imported candidate keeps its suppression (suppressions are by email hash); an
  erased person is not re-imported, under any ATS id: the keyed hashes of their address and
  ATS id (`vivier.imports.erased`) reject the row, and nothing of it is stored.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, bindparam, func, insert, select, update

from vivier.imports.chunks import CHUNK_SIZE
from vivier.imports.erased import Erasure, default_keys, erased_among
from vivier.imports.fields import DEFAULT_ZONE, clean_text, parse_when, refuse_formula
from vivier.imports.report import (
    ImportReport,
    Rejection,
    RowError,
    shown,
    shown_id,
    stopped_safely,
    unexpected,
)
from vivier.imports.rows import read_csv_records
from vivier.rules.contact import (
    MAX_LENGTHS,
    STATUSES,
    SUPPORTED_LANGUAGES,
    ascii_domain,
    has_visible_character,
    is_supported_locale,
    is_valid_email,
)
from vivier.rules.identity import ErasureKeys, email_hash, normalise_ats_id, normalise_email
from vivier.rules.zones import canonical_zone
from vivier.store.schema import Candidate, Suppression, utcnow
from vivier.store.sql import one_of

CANDIDATE_COLUMNS = ("external_id", "email", "first_name", "last_name", "locale", "status")
CANDIDATE_OPTIONAL = ("city", "search_location", "expertise", "tags", "last_applied_at", "owner",
                      "owner_name", "timezone")
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
    row["email"] = _email(clean_text(record, "email", None))
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
        row["tags"] = _tags(clean_text(record, "tags", None, formula_checked=False))
    if "owner" in record:
        row["owner_email"] = _owner(clean_text(record, "owner", None))
    if "owner_name" in record:
        row["owner_name"] = clean_text(record, "owner_name", _limit("owner_name")) or None
    if "timezone" in record:
        row["timezone"] = _timezone(clean_text(record, "timezone", _limit("timezone")))
    if "last_applied_at" in record:
        applied = clean_text(record, "last_applied_at", None)
        row["last_applied_at"] = parse_when(applied, "last_applied_at", zone, now) \
            if applied else None
    return row


def _email(email: str) -> str:
    """The address as stored: valid as given, its domain in ASCII (IDNA), within the limits."""
    if not email:
        raise RowError("email is empty")
    if len(email) > MAX_LENGTHS["email"] or not is_valid_email(email):
        raise RowError("email is not a valid address (one @, a dotted domain, no spaces, "
                       "no invisible or control characters)")
    stored = ascii_domain(email)
    if stored is None:
        raise RowError("email's domain is not a valid internationalised domain name (IDNA): "
                       "no message could reach it")
    if not is_valid_email(stored):
        raise RowError(f"email is longer than {MAX_LENGTHS['email']} characters once its domain "
                       "is written in ASCII (IDNA)")
    return stored


def _owner(email: str) -> str | None:
    """The owner recruiter's address as stored (None: no owner), or RowError."""
    if not email:
        return None
    try:
        return _email(email)
    except RowError as problem:
        reason = str(problem).replace("email", "the owner recruiter's address", 1)
        raise RowError(f"owner: {reason} (their name goes in owner_name)") from None


def _timezone(text: str) -> str | None:
    """The IANA zone as IANA spells it, None when empty; RowError for anything else."""
    if not text:
        return None
    zone = canonical_zone(text)
    if zone is None:
        raise RowError(f"timezone {shown(text)} is not an IANA time zone: use e.g. America/Toronto "
                       "or Europe/London, or leave it empty (the zone then follows where they search)")
    return zone


def _tags(text: str) -> list[str]:
    """The `;`-separated tags, each refused if it is a formula, without repeats."""
    tags = list(dict.fromkeys(tag.strip() for tag in text.split(";") if tag.strip()))
    for tag in tags:
        refuse_formula(tag, "tags")
    if len(tags) > MAX_TAGS or any(len(tag) > MAX_TAG_LENGTH for tag in tags):
        raise RowError(f"tags: at most {MAX_TAGS} tags of {MAX_TAG_LENGTH} characters")
    return tags


def import_candidates(
    engine: Engine, path: Path | str, zone: tzinfo = DEFAULT_ZONE, now: datetime | None = None,
    keys: ErasureKeys | None = None,
) -> ImportReport:
    """Upsert the candidates of an ATS CSV export by external_id; report rejected lines.

    `keys` recognise erased people (None: those of the process settings).
    """
    path, now, keys = Path(path), now or utcnow(), default_keys(keys)
    report = ImportReport(file=path.name)
    seen = _FirstSeen()
    chunk: list[tuple[int, dict[str, Any]]] = []
    with stopped_safely(report), engine.begin() as connection:
        for line, record in read_csv_records(path, CANDIDATE_COLUMNS, CANDIDATE_OPTIONAL, report):
            if record is None:
                continue
            try:
                row = candidate_row(record, zone, now)
                seen.claim(line, row)
                chunk.append((line, row))
            except RowError as exc:
                report.rejected.append(Rejection(line, shown_id(record.get("external_id")), str(exc)))
            except Exception as exc:  # noqa: BLE001 - one row's surprise must not print its values
                report.rejected.append(Rejection(line, shown_id(record.get("external_id")),
                                                 unexpected(exc)))
            if len(chunk) == CHUNK_SIZE:
                _upsert_candidates(connection, chunk, report, now, keys, seen)
                chunk = []
        _upsert_candidates(connection, chunk, report, now, keys, seen)
    report.rejected.sort(key=lambda rejection: rejection.line)
    return report


class _FirstSeen:
    """The lines where each ATS id and address first appeared in a valid row (without case)."""

    def __init__(self) -> None:
        self.ids: dict[str, tuple[int, str]] = {}
        self.emails: dict[str, tuple[int, str]] = {}

    def claim(self, line: int, row: dict[str, Any]) -> None:
        """Record the row's ATS id, or RowError naming the line that has it."""
        ats_id = normalise_ats_id(row["external_id"])
        if ats_id in self.ids:
            first, spelled = self.ids[ats_id]
            raise RowError(f"duplicate external_id: already on line {first}" + (
                "" if spelled == row["external_id"] else f" as {spelled} (ATS ids compare without case)"))
        self.ids[ats_id] = (line, row["external_id"])

    def address_taken(self, line: int, row: dict[str, Any]) -> str | None:
        """Why the row's address is another row's, or None after recording it as this row's.

        Claimed when the row is about to be written, so a row rejected for anything else
        leaves the address to a later row.
        """
        email = normalise_email(row["email"])
        if email in self.emails:
            first, holder = self.emails[email]
            return (f"email is already on line {first} ({holder}; addresses compare without "
                    "case): one address per candidate, merge the two ATS records")
        self.emails[email] = (line, row["external_id"])
        return None


def _upsert_candidates(
    connection: Connection, chunk: list[tuple[int, dict[str, Any]]], report: ImportReport,
    now: datetime, keys: ErasureKeys, seen: _FirstSeen,
) -> None:
    """Insert new ATS ids, update known ones, never store an erased person again."""
    if not chunk:
        return
    table = CANDIDATES
    known = {ats_id: erased_at for ats_id, erased_at in connection.execute(
        select(table.c.external_id, table.c.erased_at).where(
            one_of(table.c.external_id, [row["external_id"] for _, row in chunk])))}
    erased = _erased(connection, chunk, keys)
    holders = _address_holders(connection, chunk)
    inserts, updates, hashes = [], [], []
    for line, row in chunk:
        ats_id = row["external_id"]
        holder = holders.get(normalise_email(row["email"]), ats_id)
        if ats_id in erased:
            report.rejected.append(Rejection(line, ats_id, erased[ats_id]))
            continue
        if known.get(ats_id) is not None:
            report.rejected.append(Rejection(line, ats_id, (
                "candidate was erased: not re-imported (remove them from the ATS export)")))
            continue
        if holder != ats_id:
            report.rejected.append(Rejection(line, ats_id, (
                f"email is already held by candidate {holder} (addresses compare without case): "
                "one address per candidate, merge the two ATS records")))
            continue
        if (taken := seen.address_taken(line, row)) is not None:
            report.rejected.append(Rejection(line, ats_id, taken))
            continue
        if ats_id not in known:
            inserts.append(row)
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
        one_of(Suppression.email_hash, set(hashes))))) if hashes else set()
    report.suppressed_matches += sum(digest in suppressed for digest in hashes)
    report.imported += len(inserts)
    report.updated += len(updates)


def _erased(
    connection: Connection, chunk: list[tuple[int, dict[str, Any]]], keys: ErasureKeys
) -> dict[str, str]:
    """ATS id -> why its row is refused, for the rows of erased people (by ATS id or address)."""
    by_id = erased_among(connection, keys, "external_id", [row["external_id"] for _, row in chunk])
    by_email = erased_among(connection, keys, "email", [row["email"] for _, row in chunk])
    # Erased before erasure keys existed (migration 0003): their suppression by email hash.
    hashes = {email_hash(row["email"]): row["email"] for _, row in chunk}
    for digest, created_at, source in connection.execute(
            select(Suppression.email_hash, Suppression.created_at, Suppression.source)
            .where(one_of(Suppression.email_hash, list(hashes)), Suppression.reason == "erasure")):
        by_email.setdefault(hashes[digest], Erasure(created_at, source.removeprefix("gdpr-")))
    refused: dict[str, str] = {}
    for _, row in chunk:
        erasure: Erasure | None = by_id.get(row["external_id"])
        if erasure is not None:
            refused[row["external_id"]] = erasure.reason("ATS id")
        elif (erasure := by_email.get(row["email"])) is not None:
            refused[row["external_id"]] = erasure.reason("email address")
    return refused


def _address_holders(
    connection: Connection, chunk: list[tuple[int, dict[str, Any]]]
) -> dict[str, str]:
    """Lower-cased address -> the ATS id of the (not erased) candidate holding it in the pool."""
    lowered = {normalise_email(row["email"]) for _, row in chunk}
    email = func.lower(CANDIDATES.c.email)
    return dict(connection.execute(
        select(email, CANDIDATES.c.external_id)
        .where(one_of(email, lowered), CANDIDATES.c.erased_at.is_(None))).all())
