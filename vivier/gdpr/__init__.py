"""GDPR lifecycle: retention, erasure, access export and the `why` of every message.

A request names a person as vivier's internal id or as the ATS id; `find_candidate`
turns either into the internal id, or says why it cannot.

Every table that holds something about a person references `candidates.id`: erasure and
export find those tables by introspecting the schema's foreign keys (`person_tables`), so
a table added later is covered without editing this package.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Table, select

from vivier.store.schema import Base, Candidate


class CandidateNotFound(LookupError):
    """No candidate, or more than one, answers to the reference a person gave."""


def find_candidate(conn: Connection, reference: str) -> int:
    """The internal id for `reference`: `id:12`, `ats:T-000012`, or a bare id / ATS id."""
    reference = reference.strip()
    kind, _, value = reference.partition(":")
    if kind in ("id", "ats") and value:
        by_id = _by_internal_id(conn, value) if kind == "id" else None
        by_ats = _by_ats_id(conn, value) if kind == "ats" else None
        found = by_id if kind == "id" else by_ats
        if found is None:
            what = "internal id" if kind == "id" else "ATS id"
            raise CandidateNotFound(f"no candidate with {what} {value!r}")
        return found
    by_id, by_ats = _by_internal_id(conn, reference), _by_ats_id(conn, reference)
    if by_id is not None and by_ats is not None and by_id != by_ats:
        raise CandidateNotFound(
            f"{reference!r} is both candidate {by_id}'s internal id and candidate {by_ats}'s "
            f"ATS id: say which with id:{reference} or ats:{reference}")
    found = by_id if by_id is not None else by_ats
    if found is None:
        raise CandidateNotFound(
            f"no candidate with internal id or ATS id {reference!r} (check the ATS export)")
    return found


def _by_internal_id(conn: Connection, value: str) -> int | None:
    if not value.isdigit():
        return None
    return conn.scalar(select(Candidate.id).where(Candidate.id == int(value)))


def _by_ats_id(conn: Connection, value: str) -> int | None:
    return conn.scalar(select(Candidate.id).where(Candidate.external_id == value))


def person_tables() -> list[tuple[Table, Column]]:
    """Every table with rows about one candidate, with the column that names them."""
    found = []
    for table in Base.metadata.sorted_tables:
        for key in table.foreign_keys:
            if key.column.table.name == Candidate.__tablename__ and key.parent.table is table:
                found.append((table, key.parent))
    return found
