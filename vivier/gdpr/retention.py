"""Who is due for anonymisation: no active contact for `settings.retention_months`.

A French recruiting team keeps a talent-pool profile at most two years after the last
contact (CNIL recruitment guidance). Contact means something the *person* did: a reply,
a click, an application, a preference or consent action. Our own messages, deliveries,
bounces and opens do not count (an open is a pixel fetched by a mail client, not a choice).
A profile never contacted counts from the day it entered the pool (`created_at`).
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Engine, and_, exists, func, or_, select

from vivier.gdpr.anonymise import anonymise
from vivier.rules.identity import ErasureKeys
from vivier.store.schema import Candidate, Consent, Interaction, Preference, utcnow

# Interaction kinds that are the person's own doing.
ACTIVE_KINDS = ("replied", "clicked", "applied", "unsubscribed", "resubscribed")
# ...and any kind of these families (consent_granted, preference_changed, …).
ACTIVE_PREFIXES = ("consent", "preference")


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (31 March - 1 = 28/29 February)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def months_after(moment: datetime, months: int) -> datetime:
    return months_before(moment, -months)


def _active_interaction() -> ColumnElement[bool]:
    return or_(Interaction.kind.in_(ACTIVE_KINDS),
               *(Interaction.kind.like(f"{prefix}%") for prefix in ACTIVE_PREFIXES))


def active_since(cutoff: datetime) -> ColumnElement[bool]:
    """SQL: the candidate did something themselves at or after `cutoff`."""
    # `last_applied_at` may be NULL: guard it, or NOT(NULL OR …) would hide the row.
    return or_(
        Candidate.created_at >= cutoff,
        and_(Candidate.last_applied_at.is_not(None), Candidate.last_applied_at >= cutoff),
        exists().where(Consent.candidate_id == Candidate.id, Consent.recorded_at >= cutoff),
        exists().where(Preference.candidate_id == Candidate.id, Preference.updated_at >= cutoff),
        exists().where(Interaction.candidate_id == Candidate.id, Interaction.occurred_at >= cutoff,
                       _active_interaction()),
    )


_active_since = active_since  # the name vivier.pipeline.survey imported first; use `active_since`


def due_for_retention(
    conn: Connection, cutoff: datetime, *, after_id: int = 0, limit: int | None = None
) -> list[int]:
    """Ids of candidates (not yet erased) with no active contact since `cutoff`, by id."""
    query = (select(Candidate.id)
             .where(Candidate.id > after_id, Candidate.erased_at.is_(None), ~active_since(cutoff))
             .order_by(Candidate.id))
    if limit is not None:
        query = query.limit(limit)
    return list(conn.scalars(query))


def last_active_contact(conn: Connection, candidate_id: int) -> datetime | None:
    """The latest thing the candidate did themselves (or their arrival in the pool)."""
    profile = conn.execute(select(Candidate.created_at, Candidate.last_applied_at)
                           .where(Candidate.id == candidate_id)).one_or_none()
    moments = [
        *(profile or ()),
        conn.scalar(select(func.max(Consent.recorded_at)).where(Consent.candidate_id == candidate_id)),
        conn.scalar(select(Preference.updated_at).where(Preference.candidate_id == candidate_id)),
        conn.scalar(select(func.max(Interaction.occurred_at)).where(
            Interaction.candidate_id == candidate_id, _active_interaction())),
    ]
    found = [moment for moment in moments if moment is not None]
    return max(found) if found else None


@dataclass
class RetentionBatch:
    """One batch of the retention run: who was due, who got anonymised, where to go on."""

    due: list[int] = field(default_factory=list)
    anonymised: list[int] = field(default_factory=list)

    @property
    def last_id(self) -> int | None:
        return self.due[-1] if self.due else None


def retire_batch(
    engine: Engine, cutoff: datetime, after_id: int, limit: int, *, dry_run: bool = False,
    flow_run_id: str | None = None, now: datetime | None = None, keys: ErasureKeys | None = None,
) -> RetentionBatch:
    """Anonymise up to `limit` due candidates after `after_id`, in one transaction.

    Finding and anonymising share the transaction, so someone who just acted is not caught
    between the two. A dry run only lists who is due.
    """
    with engine.begin() as conn:
        due = due_for_retention(conn, cutoff, after_id=after_id, limit=limit)
        if dry_run or not due:
            return RetentionBatch(due=due)
        done = anonymise(conn, due, source="retention", now=now or utcnow(),
                         flow_run_id=flow_run_id, keys=keys)
    return RetentionBatch(due=due, anonymised=done)
