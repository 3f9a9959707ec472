"""Anonymise candidates: what both erasure requests and the retention flow do.

What goes: the profile's names, address, city, search location, expertise and tags (also
those chosen on the preference page) and owner recruiter; in
every row about the person (any table referencing `candidates.id`), their identifiers
inside text and JSON (the address, the names, any address- or IP-shaped string) and the
values of JSON keys that hold identifiers or free text (IP, user agent, note, body…).
What stays: the id, the ATS id (so a re-import is refused), status, locale, dates, the
send ledger, decisions, interactions and the consent log's state/time history — the
aggregate record the report reads. The address's hash goes to `suppressions`, so a new
ATS record with the same address is never messaged either, and keyed hashes of the address
and the ATS id go to `erasure_keys`, so the imports refuse to store the person again (under
another ATS id, or the same one in another case).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Connection,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from vivier.gdpr import person_tables
from vivier.ledger import moves as ledger_moves
from vivier.rules.identity import ErasureKeys, email_hash, normalise_email
from vivier.settings import Settings, get_settings
from vivier.store.schema import Candidate, ErasureKey, Interaction, Preference, Send, utcnow
from vivier.store.sql import add_suppressions

ERASED = "[erased]"
# Kept on the profile: the ATS id refuses a re-import; status and locale feed the report.
KEPT_PROFILE_COLUMNS = frozenset({"external_id", "status", "locale"})
# JSON keys (compared without case, `_` or `-`) whose value identifies a person or is free text.
PERSONAL_KEYS = frozenset({
    "ip", "ipaddress", "remoteaddr", "remoteip", "clientip", "forwardedfor", "xforwardedfor",
    "useragent", "ua", "email", "emailaddress", "mail", "to", "from", "replyto", "cc",
    "name", "firstname", "lastname", "fullname", "displayname", "phone", "telephone", "mobile",
    "address", "postaladdress", "city", "location", "note", "notes", "comment", "comments",
    "text", "body", "message", "freetext", "subject", "snippet", "quote", "headers",
    "referer", "referrer", "signature", "answer", "reply",
})
_EMAIL_SHAPED = r"[^\s@<>\"'(),;:]+@[^\s@<>\"'(),;:]+\.[^\s@<>\"'(),;:]+"
_IPV4 = r"\b(?:\d{1,3}\.){3}\d{1,3}\b"
_IPV6 = r"\b(?:[0-9a-f]{1,4}:){5,7}[0-9a-f]{1,4}\b|\b(?:[0-9a-f]{1,4}:)+:(?:[0-9a-f]{1,4})?\b"
# Anything shaped like an address or an IP, whoever's: erased from the person's free text.
SHAPES = re.compile("|".join((_EMAIL_SHAPED, _IPV4, _IPV6)), re.IGNORECASE)
CHUNK = 500


@dataclass(frozen=True)
class Identifiers:
    """One person's address and names, as the pattern that finds them in text."""

    email: str | None
    names: tuple[str, ...]

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """The address and the names (each word, with and without accents) as whole words."""
        words = {variant for name in self.names for variant in _spellings(name) if len(variant) > 1}
        parts = [re.escape(self.email.strip())] if self.email and self.email.strip() else []
        parts += [rf"(?<!\w){re.escape(word)}(?!\w)" for word in sorted(words, key=len, reverse=True)]
        return re.compile("|".join(parts) or r"(?!x)x", re.IGNORECASE)


def _spellings(name: str) -> set[str]:
    """The name, its words, and both without accents (`Léa` is also written `Lea`)."""
    name = name.strip()
    found = {name, *re.split(r"[\s\-']+", name)}
    bare = {unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode() for word in found}
    return {word for word in found | bare if word}


def scrub_text(text: str, pattern: re.Pattern[str], broad: bool = False) -> str:
    """The text with the person's identifiers (and, if `broad`, any address or IP) replaced."""
    text = pattern.sub(ERASED, text)
    return SHAPES.sub(ERASED, text) if broad else text


def scrub_json(value: Any, pattern: re.Pattern[str]) -> Any:
    """The JSON value with identifiers, addresses, IPs and the values of personal keys replaced."""
    if isinstance(value, dict):
        return {scrub_text(str(key), pattern, broad=True): ERASED if _personal(key, item)
                else scrub_json(item, pattern) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub_json(item, pattern) for item in value]
    if isinstance(value, str):
        return scrub_text(value, pattern, broad=True)
    return value


def _personal(key: object, value: Any) -> bool:
    folded = re.sub(r"[\s_\-]", "", str(key)).lower()
    return folded in PERSONAL_KEYS and value not in (None, "", [], {})


def erasure_keys_of(settings: Settings) -> ErasureKeys:
    """The secrets erasure keys are made and checked with: the secret key, then retired ones."""
    return ErasureKeys.of(settings.secret_key.get_secret_value(),
                          [key.get_secret_value() for key in settings.old_secret_keys])


def anonymise(
    conn: Connection, candidate_ids: Sequence[int], *, source: str,
    now: datetime | None = None, flow_run_id: str | None = None,
    keys: ErasureKeys | None = None,
) -> list[int]:
    """Anonymise these candidates in the caller's transaction; returns the ids done now.

    Already-erased candidates are skipped, so running it again changes nothing.
    `source` says why (`request` for an erasure request, `retention` for the monthly flow).
    `keys` makes the erasure keys; None reads them from the process settings.
    """
    now = now or utcnow()
    keys = keys or erasure_keys_of(get_settings())
    done: list[int] = []
    for start in range(0, len(candidate_ids), CHUNK):
        done += _anonymise_chunk(conn, list(candidate_ids[start:start + CHUNK]), source, now,
                                 flow_run_id, keys)
    return done


def _anonymise_chunk(
    conn: Connection, ids: list[int], source: str, now: datetime, flow_run_id: str | None,
    keys: ErasureKeys,
) -> list[int]:
    rows = conn.execute(
        select(Candidate.id, Candidate.external_id, Candidate.email, Candidate.first_name,
               Candidate.last_name)
        .where(Candidate.id.in_(ids), Candidate.erased_at.is_(None))
        .with_for_update()).all()
    people = {row.id: Identifiers(row.email, (row.first_name or "", row.last_name or ""))
              for row in rows}
    if not people:
        return []
    _leave_erasure_keys(conn, [(row.email, row.external_id) for row in rows], source, now, keys)
    add_suppressions(conn, [
        {"email_hash": email_hash(person.email), "reason": "erasure",
         "source": f"gdpr-{source}"[:64], "created_at": now}
        for person in people.values() if person.email and person.email.strip()])
    # Planned but not yet claimed: nobody may deliver to an erased person.
    ledger_moves.withdraw(conn, Send.candidate_id.in_(list(people)))
    for table, column in person_tables():
        _scrub_rows(conn, table, column, people)
    conn.execute(update(Candidate).where(Candidate.id.in_(list(people)))
                 .values(**_blank_profile(), erased_at=now, updated_at=now))
    # Their own choice of field and place is profile too (the preference page's).
    conn.execute(update(Preference).where(Preference.candidate_id.in_(list(people)))
                 .values(expertise=None, search_location=None))
    conn.execute(insert(Interaction), [
        {"candidate_id": candidate_id, "kind": "erased", "flow_run_id": flow_run_id,
         "details": {"source": source}, "occurred_at": now} for candidate_id in people])
    return sorted(people)


def _leave_erasure_keys(
    conn: Connection, people: list[tuple[str | None, str]], source: str, now: datetime,
    keys: ErasureKeys,
) -> None:
    """Keyed hashes of each person's address and ATS id, so the imports refuse them again."""
    found = {}
    for email, ats_id in people:
        for kind, value in (("email", email), ("external_id", ats_id)):
            if value and value.strip():
                digest = keys.key(kind, value)
                found[digest] = {"digest": digest, "kind": kind, "source": source[:16],
                                 "erased_at": now}
    if found:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(ErasureKey).on_conflict_do_nothing(), list(found.values()))


def _blank_profile() -> dict[str, Any]:
    """Every profile column but the kept ones, emptied (JSON lists and objects to empty)."""
    table: Table = Candidate.__table__  # type: ignore[assignment]
    blank: dict[str, Any] = {}
    for column in free_text_columns(table):
        if column.name not in KEPT_PROFILE_COLUMNS:
            blank[column.name] = ([] if column.name == "tags" else {}) \
                if isinstance(column.type, JSON) else None
    return blank


def free_text_columns(table: Table) -> list[Column[Any]]:
    """The String/Text/JSON columns that may hold anything (not keys, not a closed set of values)."""
    closed = {name for constraint in table.constraints if isinstance(constraint, CheckConstraint)
              for name in (column.name for column in table.columns)
              if re.match(rf"\s*{name}\b", str(constraint.sqltext))}
    return [column for column in table.columns
            if isinstance(column.type, String | JSON) and not column.primary_key
            and not column.foreign_keys and column.name not in closed]


def _scrub_rows(
    conn: Connection, table: Table, person: Column[Any], people: dict[int, Identifiers]
) -> None:
    """Scrub the text columns of this table's rows about these people.

    Short strings (ids, keys, message ids) lose only the person's address and names; free
    text (Text, JSON) also loses anything shaped like an address or an IP.
    """
    if table.name == Candidate.__tablename__:
        return
    columns = free_text_columns(table)
    keys = list(table.primary_key.columns)
    if not columns or not keys:
        return
    changed = []
    rows = conn.execute(select(person, *keys, *columns).where(person.in_(list(people))))
    for row in rows.mappings():
        pattern = people[row[person.name]].pattern
        values = {column.name: _scrubbed(row[column.name], column, pattern) for column in columns}
        if any(values[name] != row[name] for name in values):
            changed.append({**values, **{f"k_{key.name}": row[key.name] for key in keys}})
    if changed:
        statement = update(table).where(*(key == bindparam(f"k_{key.name}") for key in keys))
        conn.execute(statement, changed)


def _scrubbed(value: Any, column: Column[Any], pattern: re.Pattern[str]) -> Any:
    if value is None:
        return None
    if isinstance(column.type, JSON):
        return scrub_json(value, pattern)
    return scrub_text(str(value), pattern, broad=isinstance(column.type, Text))


def forget_samples(samples_dir: Path, candidate_ids: Sequence[int]) -> int:
    """Delete dry-run sample messages rendered for these candidates; returns how many."""
    removed = 0
    folder = Path(samples_dir)
    if not folder.is_dir():
        return 0
    for candidate_id in candidate_ids:
        for sample in folder.glob(f"*/candidate-{int(candidate_id)}.eml"):
            sample.unlink(missing_ok=True)
            removed += 1
    return removed


def same_address(conn: Connection, candidate_id: int) -> list[int]:
    """Other candidates, not erased, holding this candidate's address (the same person, maybe)."""
    email = conn.scalar(select(Candidate.email).where(Candidate.id == candidate_id))
    if not email or not email.strip():
        return []
    return list(conn.scalars(
        select(Candidate.id).where(func.lower(Candidate.email) == normalise_email(email),
                                   Candidate.id != candidate_id, Candidate.erased_at.is_(None))
        .order_by(Candidate.id)))
