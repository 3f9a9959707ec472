"""Reading the pool in key-range batches, with the facts the policy needs, in bulk."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql

from vivier.imports.applications import SOURCE as ATS_SOURCE
from vivier.pauses import PAUSED, RESUMED, active_end
from vivier.rules.cadences import STATUS_CADENCE
from vivier.rules.eligibility import CLOSED_OUTCOMES, ApplicationFact
from vivier.store.bulk import is_postgres, raw_dicts
from vivier.store.schema import (
    Application,
    Candidate,
    Consent,
    Interaction,
    Preference,
    Send,
    Suppression,
)
from vivier.store.sql import one_of

# Read with the candidate's preferences joined: their own field and place win over the ATS's.
_CHOSEN = (
    func.coalesce(Preference.search_location, Candidate.search_location).label("search_location"),
    func.coalesce(Preference.expertise, Candidate.expertise).label("expertise"),
)
CANDIDATE_COLUMNS = (
    Candidate.id, Candidate.external_id, Candidate.email, Candidate.first_name,
    Candidate.last_name, Candidate.locale, Candidate.city, *_CHOSEN, Candidate.tags,
    Candidate.status, Candidate.last_applied_at,
    Candidate.last_contacted_at, Candidate.created_at, Candidate.erased_at,
    Candidate.owner_email, Candidate.owner_name, Candidate.timezone,
)


def within(column: Any, lo: int, hi: int, only: Sequence[int] | None = None) -> Any:
    """SQL: `lo < column <= hi`, and one of `only` when given (an incremental rerun's few)."""
    bounds = and_(column > lo, column <= hi)
    return bounds if only is None else and_(bounds, one_of(column, only))


def closed_application():  # type: ignore[no-untyped-def]
    """SQL: the candidate has an application that ended (hired, rejected or withdrawn)."""
    return exists(select(Application.id).where(
        Application.candidate_id == Candidate.id, Application.outcome.in_(sorted(CLOSED_OUTCOMES))))


def effective_cadence():  # type: ignore[no-untyped-def]
    """SQL for a candidate's cadence: their own choice, else their status's default.

    A candidate whose application ended (hired, rejected, withdrawn) is a former candidate
    from that moment: the former's cadence unless they chose one. The pause that follows is
    the policy's (`recently_hired`, `in_process`), so the pool never depends on the run's date.
    The `none` pool is extracted by its status cadence so the exclusion is recorded.
    """
    by_status = case((closed_application(), STATUS_CADENCE["former"]),
                     *((Candidate.status == s, c) for s, c in STATUS_CADENCE.items()))
    own_choice = or_(Preference.frequency.is_(None), Preference.frequency == "none")
    return case((own_choice, by_status), else_=Preference.frequency)


def in_pool(cadence: str):  # type: ignore[no-untyped-def]
    """SQL: the candidate is in this cadence's pool (not erased; needs the Preference join)."""
    return and_(Candidate.erased_at.is_(None), effective_cadence() == cadence)


def batch_bounds(
    conn: Connection, cadence: str, batch_size: int, limit: int | None = None
) -> list[tuple[int, int]]:
    """Id ranges `(lo, hi]` of about `batch_size` candidates each, over the cadence's pool."""
    numbered = (
        select(Candidate.id, func.row_number().over(order_by=Candidate.id).label("rn"))
        .outerjoin(Preference, Preference.candidate_id == Candidate.id)
        .where(in_pool(cadence))
        .subquery()
    )
    query = select(numbered.c.id, numbered.c.rn).where(
        (numbered.c.rn % batch_size == 0)
        | (numbered.c.rn == select(func.max(numbered.c.rn)).scalar_subquery())
    )
    if limit is not None:
        query = query.where(numbered.c.rn <= limit)
        cut = select(numbered.c.id).where(numbered.c.rn == limit).scalar_subquery()
        statement: Select[Any] | CompoundSelect = query.union(
            select(cut, literal(limit)).where(cut.is_not(None)))
    else:
        statement = query
    edges = sorted({row.id for row in conn.execute(statement) if row.id is not None})
    bounds, low = [], 0
    for edge in edges:
        bounds.append((low, edge))
        low = edge
    return bounds


def read_batch(conn: Connection, cadence: str, lo: int, hi: int,
               only: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """The cadence's candidates with `lo < id <= hi` (and in `only`), with their own frequency."""
    query = (
        select(*CANDIDATE_COLUMNS, Preference.frequency, Preference.privileged)
        .outerjoin(Preference, Preference.candidate_id == Candidate.id)
        .where(within(Candidate.id, lo, hi, only), in_pool(cadence))
        .order_by(Candidate.id)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def read_candidates(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """These candidates (id -> their columns and `privileged`), read at once; on PostgreSQL on
    psycopg's cursor (`raw_dicts`): delivery reads every candidate it sends to."""
    if is_postgres(conn):
        return {row["id"]: row for row in raw_dicts(conn, _BY_ID_PG, {"ids": list(ids)})}
    query = _CANDIDATES.where(one_of(Candidate.id, ids))
    return {row.id: dict(row._mapping) for row in conn.execute(query)}


_CANDIDATES = (select(*CANDIDATE_COLUMNS, Preference.privileged)
               .outerjoin(Preference, Preference.candidate_id == Candidate.id))
_BY_ID_PG = _CANDIDATES.where(
    Candidate.id == any_(bindparam("ids", type_=postgresql.ARRAY(Candidate.id.type))))


def latest_consents(conn: Connection, lo: int, hi: int, purpose: str = "nurturing",
                    only: Sequence[int] | None = None) -> dict[int, str]:
    """The consent state in force per candidate in `(lo, hi]` (latest event wins)."""
    ranked = (
        select(
            Consent.candidate_id, Consent.state,
            func.row_number().over(
                partition_by=Consent.candidate_id,
                order_by=(Consent.recorded_at.desc(), Consent.id.desc()),
            ).label("rank"),
        )
        .where(within(Consent.candidate_id, lo, hi, only), Consent.purpose == purpose)
        .subquery()
    )
    rows = conn.execute(select(ranked.c.candidate_id, ranked.c.state).where(ranked.c.rank == 1))
    return {row.candidate_id: row.state for row in rows}


def recent_replies(conn: Connection, lo: int, hi: int, since: datetime,
                   only: Sequence[int] | None = None) -> dict[int, datetime]:
    """The latest reply since `since` per candidate in `(lo, hi]`."""
    query = (
        select(Interaction.candidate_id, func.max(Interaction.occurred_at).label("at"))
        .where(within(Interaction.candidate_id, lo, hi, only),
               Interaction.kind == "replied", Interaction.occurred_at >= since)
        .group_by(Interaction.candidate_id)
    )
    return {row.candidate_id: row.at for row in conn.execute(query)}


def latest_pause_events(conn: Connection, lo: int, hi: int,
                        only: Sequence[int] | None = None) -> dict[int, Any]:
    """The latest `paused` or `resumed` interaction per candidate in `(lo, hi]`."""
    ranked = (
        select(
            Interaction.candidate_id, Interaction.kind, Interaction.details, Interaction.occurred_at,
            func.row_number().over(
                partition_by=Interaction.candidate_id,
                order_by=(Interaction.occurred_at.desc(), Interaction.id.desc()),
            ).label("rank"),
        )
        .where(within(Interaction.candidate_id, lo, hi, only),
               Interaction.kind.in_((PAUSED, RESUMED)))
        .subquery()
    )
    query = select(ranked.c.candidate_id, ranked.c.kind, ranked.c.details,
                   ranked.c.occurred_at).where(ranked.c.rank == 1)
    return {row.candidate_id: row for row in conn.execute(query)}


def active_pauses(conn: Connection, lo: int, hi: int, now: datetime,
                  only: Sequence[int] | None = None) -> dict[int, datetime]:
    """When each active pause of the candidates in `(lo, hi]` ends (a recruiter's `vivier pause`)."""
    found = {}
    for candidate_id, row in latest_pause_events(conn, lo, hi, only).items():
        if (ends_at := active_end(row.kind, row.details, now)) is not None:
            found[candidate_id] = ends_at
    return found


def applications(conn: Connection, lo: int, hi: int,
                 only: Sequence[int] | None = None) -> dict[int, list[ApplicationFact]]:
    """Every application of the candidates in `(lo, hi]`, with when its outcome was reached.

    A hire dates from its `hired` interaction (the ATS's outcome_at, recorded by the import);
    other outcomes from the row's last change (when vivier learned them).
    """
    hired_key = (literal(f"{ATS_SOURCE}:hired:") + cast(Application.candidate_id, String)
                 + ":" + Application.job_ref)
    query = (
        select(Application.candidate_id, Application.job_ref, Application.outcome,
               func.coalesce(Interaction.occurred_at, Application.updated_at).label("decided_at"))
        .outerjoin(Interaction, and_(Application.outcome == "hired", Interaction.event_key == hired_key))
        .where(within(Application.candidate_id, lo, hi, only))
    )
    found: dict[int, list[ApplicationFact]] = {}
    for row in conn.execute(query):
        found.setdefault(row.candidate_id, []).append(
            ApplicationFact(row.job_ref, row.outcome, row.decided_at))
    return found


def segment_fields(conn: Connection, chunk: int = 10_000) -> Iterator[dict[str, Any]]:
    """The fields segments filter on, for every candidate not erased, streamed by id: the field
    and place the candidate chose on the preference page win over the ATS's, as in a run."""
    query = (select(Candidate.status, *_CHOSEN, Candidate.city, Candidate.tags)
             .outerjoin(Preference, Preference.candidate_id == Candidate.id)
             .where(Candidate.erased_at.is_(None)).order_by(Candidate.id))
    for row in conn.execution_options(stream_results=True, yield_per=chunk).execute(query):
        yield dict(row._mapping)


def suppressed(conn: Connection, hashes: Iterable[str]) -> set[str]:
    wanted = list(set(hashes))
    if not wanted:
        return set()
    rows = conn.execute(select(Suppression.email_hash).where(one_of(Suppression.email_hash, wanted)))
    return set(rows.scalars())


def ledger(conn: Connection, cadence: str, period_key: str, lo: int, hi: int,
           only: Sequence[int] | None = None) -> dict[int, Any]:
    """This period's send rows for candidates in `(lo, hi]`."""
    query = select(Send.candidate_id, Send.status, Send.claimed_at, Send.id).where(
        Send.cadence == cadence, Send.period_key == period_key,
        within(Send.candidate_id, lo, hi, only),
    )
    return {row.candidate_id: row for row in conn.execute(query)}


def first_holders(conn: Connection, emails: Iterable[str]) -> dict[str, int]:
    """For each (lower-cased) address, the smallest non-erased candidate id that holds it."""
    wanted = list({email.lower() for email in emails if email})
    if not wanted:
        return {}
    key = func.lower(Candidate.email)
    query = (
        select(key.label("email"), func.min(Candidate.id).label("first_id"))
        .where(one_of(key, wanted), Candidate.erased_at.is_(None))
        .group_by(key)
    )
    return {row.email: row.first_id for row in conn.execute(query)}
