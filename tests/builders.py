"""Small, explicit test data: one candidate at a time, with the history a test needs."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from vivier.rules.cadences import STATUS_CADENCE
from vivier.rules.identity import email_hash
from vivier.store.schema import Candidate, Consent, Content, Job, Preference, Suppression

_ids = itertools.count(1)
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
# Settings whose send windows are open at any hour, so that a test's run sends whatever the hour
# it runs at; the tests of the windows themselves (tests/test_send_windows.py…) use the real ones.
ALWAYS_OPEN = {f"send_hours_{cadence}": "always" for cadence in ("weekly", "monthly", "quarterly")}


def candidate(engine: sa.Engine, *, consent: str | None = "granted", frequency: str | None = None,
              suppressed: bool = False, privileged: bool = False, **fields: Any) -> int:
    """Insert one candidate (active, French, consenting by default) and return its id.

    `privileged`: in the privileged pool (with their status's frequency unless `frequency`)."""
    n = next(_ids)
    row = {"external_id": f"T-{n:06d}", "email": f"person{n}@example.org",
           "first_name": "Léa", "last_name": f"Martin{n}", "locale": "fr", "city": "Lyon",
           "search_location": "Lyon", "expertise": "Data", "tags": [], "status": "active",
           "created_at": LONG_AGO, "updated_at": LONG_AGO}
    row.update(fields)
    with engine.begin() as conn:
        candidate_id = conn.execute(
            sa.insert(Candidate).returning(Candidate.id), row).scalar_one()
        if consent is not None:
            conn.execute(sa.insert(Consent), {
                "candidate_id": candidate_id, "purpose": "nurturing", "state": consent,
                "source": "test", "evidence": {}, "recorded_at": LONG_AGO})
        if frequency is not None or privileged:
            conn.execute(sa.insert(Preference), {
                "candidate_id": candidate_id, "privileged": privileged,
                "frequency": frequency or STATUS_CADENCE[row["status"]],
                "updated_at": LONG_AGO, "source": "test"})
        if suppressed:
            conn.execute(sa.insert(Suppression), {
                "email_hash": email_hash(row["email"]), "reason": "unsubscribe",
                "source": "test", "created_at": LONG_AGO})
    return int(candidate_id)


def consent_event(engine: sa.Engine, candidate_id: int, state: str, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(Consent), {
            "candidate_id": candidate_id, "purpose": "nurturing", "state": state,
            "source": "test", "evidence": {}, "recorded_at": at})


def job(engine: sa.Engine, external_id: str, published_at: datetime) -> int:
    """One French data opening in Lyon, published then; returns its id."""
    with engine.begin() as conn:
        return int(conn.execute(sa.insert(Job).returning(Job.id), {
            "external_id": external_id, "title": f"Data engineer {external_id}", "company": "Acme",
            "location": "Lyon", "expertise": "Data", "url": f"https://jobs.example.org/{external_id}",
            "locale": "fr", "languages": ["fr"], "published_at": published_at}).scalar_one())


def openings(engine: sa.Engine, as_of: datetime, count: int = 3) -> None:
    """`count` French data openings in Lyon, old enough for everyone (past the privileged
    pool's 7-day head start), and a French tip."""
    with engine.begin() as conn:
        for n in range(count):
            conn.execute(sa.insert(Job), {
                "external_id": f"J-{n}", "title": f"Data engineer {n}", "company": "Acme",
                "location": "Lyon", "expertise": "Data", "url": f"https://jobs.example.org/{n}",
                "locale": "fr", "published_at": as_of - timedelta(days=n + 8)})
        conn.execute(sa.insert(Content), {
            "kind": "tip", "locale": "fr", "title": "Préparer un entretien", "summary": "Trois idées",
            "url": "https://blog.example.org/tip", "published_at": as_of - timedelta(days=3)})


def weekly_content(engine: sa.Engine, weeks: int = 80) -> None:
    """A tip and an article per language every week up to today, for everyone (untagged): what
    a team's content feed gives, so every weekly and monthly message has something new (nothing
    new, nothing sent: a test about something else needs a catalog)."""
    today = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    with engine.begin() as conn:
        conn.execute(sa.insert(Content), [
            {"external_id": f"WEEKLY-{kind}-{language}-{week}", "kind": kind, "locale": language,
             "title": f"{kind} {week}", "summary": None, "tags": [],
             "url": f"https://blog.example.org/{language}/{kind}/{week}",
             "published_at": today - timedelta(weeks=week)}
            for week in range(weeks) for kind in ("tip", "article") for language in ("fr", "en")])


def many_candidates(engine: sa.Engine, count: int, prefix: str = "B") -> list[int]:
    """Insert `count` consenting active candidates in bulk; returns their ids."""
    rows = [{"external_id": f"{prefix}-{n:07d}", "email": f"{prefix.lower()}{n}@example.org",
             "first_name": "Noé", "last_name": f"Bulk{n}", "locale": "fr" if n % 2 else "en",
             "city": "Lyon", "search_location": "Lyon", "expertise": "Data", "tags": [],
             "status": "active", "created_at": LONG_AGO, "updated_at": LONG_AGO}
            for n in range(count)]
    with engine.begin() as conn:
        conn.execute(sa.insert(Candidate), rows)
        ids = list(conn.execute(sa.select(Candidate.id).where(
            Candidate.external_id.like(f"{prefix}-%")).order_by(Candidate.id)).scalars())
        conn.execute(sa.insert(Consent), [
            {"candidate_id": cid, "purpose": "nurturing", "state": "granted", "source": "test",
             "evidence": {}, "recorded_at": LONG_AGO} for cid in ids])
    return ids
