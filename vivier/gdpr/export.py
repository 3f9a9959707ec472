"""Access and portability (GDPR art. 15 and 20): everything held about one person, as JSON.

The profile, then every table that references `candidates.id` (consent log, preferences,
sends with their template versions, interactions, decisions, and any table added later),
all rows for this candidate and none about anyone else, plus whether their address is
suppressed (looked up by its hash; the address itself is never stored there).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from vivier.gdpr import person_tables
from vivier.rules.identity import email_hash
from vivier.store.schema import Candidate, Suppression, utcnow

FORMAT = "vivier.personal-data/1"
ABOUT = {
    "profile": "what the ATS import (or the team) recorded about you",
    "consents": "every consent event, oldest first: state, source, evidence, when",
    "preferences": "how often you chose to hear from us ('none': never messaged)",
    "suppression": "whether your address is blocked from all messages (kept as a hash)",
    "sends": "every message planned or sent to you, with the template and its version",
    "interactions": "every event with you: messages sent, bounces, clicks, replies, changes",
    "decisions": "every time a run did not message you, and why",
    "applications": "your applications as the recruiting system recorded them, and their outcome",
}


def export_person(conn: Connection, candidate_id: int, now: datetime | None = None) -> dict[str, Any]:
    """The person's data as plain JSON-ready values; KeyError if there is no such candidate."""
    profile = conn.execute(select(Candidate.__table__).where(Candidate.id == candidate_id)).first()
    if profile is None:
        raise KeyError(f"no candidate with internal id {candidate_id}")
    person = dict(profile._mapping)
    held: dict[str, Any] = {
        "format": FORMAT,
        "exported_at": plain(now or utcnow()),
        "candidate_id": candidate_id,
        "about": ABOUT,
        "profile": plain(person),
        "suppression": suppression_status(conn, person["email"]),
    }
    # The tables ABOUT describes first, in its order; tables added later after them.
    known = list(ABOUT)
    tables = sorted(person_tables(), key=lambda found: (
        known.index(found[0].name) if found[0].name in known else len(known), found[0].name))
    for table, column in tables:
        if table.name == Candidate.__tablename__:
            continue
        order = list(table.primary_key.columns) or [column]
        rows = conn.execute(select(table).where(column == candidate_id).order_by(*order))
        held[table.name] = [plain(dict(row._mapping)) for row in rows]
    return held


def suppression_status(conn: Connection, email: str | None) -> dict[str, Any]:
    """Whether the address is suppressed, and since when and why (by hash only)."""
    if not email or not email.strip():
        return {"email_hash": None, "suppressed": None,
                "note": "no address on file (erased or never given)"}
    digest = email_hash(email)
    row = conn.execute(select(Suppression.reason, Suppression.source, Suppression.created_at)
                       .where(Suppression.email_hash == digest)).first()
    if row is None:
        return {"email_hash": digest, "suppressed": False}
    return {"email_hash": digest, "suppressed": True, "reason": row.reason,
            "source": row.source, "since": plain(row.created_at)}


def plain(value: Any) -> Any:
    """JSON-ready: datetimes as ISO 8601 (UTC), containers walked."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def to_json(held: dict[str, Any]) -> str:
    """Readable JSON (UTF-8 text, accents kept, indented)."""
    return json.dumps(held, ensure_ascii=False, indent=2, sort_keys=False)
