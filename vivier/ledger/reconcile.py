"""In-doubt sends settled by evidence: provider events and the mail server's accepted-id log.

A Message-ID is deterministic and written with the claim, so whatever shows that a message
left — a `delivered` or `bounced` event, a line of the MTA's log — names its ledger row.
Those rows become `sent` (the `reconcile` move); the others wait for evidence
`VIVIER_IN_DOUBT_EVIDENCE_HOURS`, then are offered to the operator for resend, one candidate
at a time, never resent by themselves.

An accepted-id file is read by its extension: `.csv` (a `message_id` column), `.jsonl` (a
`message_id` field per line), anything else one Message-ID per line, bare or in angle
brackets, or a log line holding `message-id=<…>` (Postfix's cleanup line): so
`grep -i 'message-id=' /var/log/mail.log > accepted.txt` is a valid file. Blank lines and
lines starting with `#` are skipped.
"""

from __future__ import annotations

import csv
import getpass
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from vivier.ledger import moves
from vivier.ledger.states import SendState
from vivier.store.schema import Interaction, Send, utcnow
from vivier.store.sql import one_of

EVIDENCE_KINDS = ("delivered", "bounced")  # events that prove the message was handed over
_ID = re.compile(r"^<?([^\s<>]+@[^\s<>]+)>?$")
_IN_LOG_LINE = re.compile(r"message-id=<([^\s<>]+)>", re.IGNORECASE)
_CHUNK = 5_000


@dataclass
class AcceptedIds:
    """The Message-IDs an accepted-id file holds, and its lines that hold none (by number)."""

    message_ids: set[str] = field(default_factory=set)
    rejected: list[int] = field(default_factory=list)


@dataclass
class InDoubt:
    """A period's in-doubt sends: waiting for evidence (candidate -> until when), or past it."""

    waiting: dict[int, datetime] = field(default_factory=dict)
    resendable: list[int] = field(default_factory=list)


def read_accepted_ids(path: Path) -> AcceptedIds:
    """The Message-IDs of an accepted-id file (see the module's docstring for the formats)."""
    found = AcceptedIds()
    with path.open(encoding="utf-8", errors="replace", newline="") as lines:
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(lines)
            if "message_id" not in (reader.fieldnames or []):
                raise ValueError(f"{path.name}: a CSV accepted-id file needs a message_id column")
            values: Any = ((reader.line_num, row.get("message_id") or "") for row in reader)
        elif path.suffix.lower() == ".jsonl":
            values = ((number, _json_id(line)) for number, line in enumerate(lines, start=1)
                      if line.strip())
        else:
            values = ((number, line) for number, line in enumerate(lines, start=1)
                      if line.strip() and not line.lstrip().startswith("#"))
        for number, value in values:
            message_id = _message_id(value)
            if message_id is None:
                found.rejected.append(number)
            else:
                found.message_ids.add(message_id)
    return found


def _json_id(line: str) -> str:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return ""
    value = record.get("message_id") if isinstance(record, dict) else None
    return value if isinstance(value, str) else ""


def _message_id(value: str) -> str | None:
    """`<id@domain>` from a bare id, a bracketed one, or a log line with `message-id=<…>`."""
    value = value.strip()
    if in_log := _IN_LOG_LINE.search(value):
        return f"<{in_log.group(1)}>"
    bare = _ID.match(value)
    return f"<{bare.group(1)}>" if bare else None


def from_accepted_ids(
    engine: Engine, cadence: str, period_key: str, accepted: set[str], source: str,
    now: datetime | None = None,
) -> list[int]:
    """Mark sent the period's in-doubt rows whose Message-ID the server accepted; their candidates."""
    now = now or utcnow()
    evidence = {"evidence": "accepted-id log", "file": source, "operator": getpass.getuser()}
    reconciled: list[int] = []
    with engine.begin() as conn:
        rows = conn.execute(select(Send.id, Send.candidate_id, Send.message_id).where(
            Send.cadence == cadence, Send.period_key == period_key,
            Send.status == str(SendState.in_doubt), Send.message_id.is_not(None))).all()
        chosen = {row.id: row.candidate_id for row in rows if row.message_id in accepted}
        moved = moves.reconcile(conn, {send_id: evidence for send_id in chosen}, now)
        reconciled = [chosen[send_id] for send_id in moved]
    return sorted(reconciled)


def from_events(conn: Connection, evidence: dict[int, dict[str, Any]], now: datetime) -> list[int]:
    """Mark sent the in-doubt rows a delivered/bounced event names (send id -> the event)."""
    return moves.reconcile(conn, evidence, now)


def from_recorded_events(conn: Connection, send_ids: list[int], now: datetime) -> list[int]:
    """Mark sent those of these rows (now in doubt) whose delivered/bounced event came already:
    an event may arrive before a dead sender's claim expires."""
    evidence: dict[int, dict[str, Any]] = {}
    for start in range(0, len(send_ids), _CHUNK):
        found = conn.execute(select(Interaction.send_id, Interaction.kind, Interaction.event_key).where(
            one_of(Interaction.send_id, send_ids[start:start + _CHUNK]),
            Interaction.kind.in_(EVIDENCE_KINDS)))
        for send_id, kind, key in found:
            if send_id is not None:
                evidence.setdefault(send_id, {"evidence": kind, "event_key": key})
    return moves.reconcile(conn, evidence, now)


def in_doubt(engine: Engine, cadence: str, period_key: str, evidence_hours: float,
             now: datetime | None = None) -> InDoubt:
    """The period's in-doubt sends, after settling those whose events came already."""
    now = now or utcnow()
    wait = timedelta(hours=evidence_hours)
    with engine.begin() as conn:
        period = (Send.cadence == cadence, Send.period_key == period_key,
                  Send.status == str(SendState.in_doubt))
        from_recorded_events(conn, list(conn.execute(select(Send.id).where(*period)).scalars()), now)
        rows = conn.execute(select(Send.candidate_id, Send.claimed_at).where(*period)
                            .order_by(Send.candidate_id)).all()
    found = InDoubt()
    for candidate_id, claimed_at in rows:
        if claimed_at is not None and claimed_at + wait > now:
            found.waiting[candidate_id] = claimed_at + wait
        else:
            found.resendable.append(candidate_id)
    return found


def resend_after_wait(engine: Engine, cadence: str, period_key: str, candidate_ids: list[int],
                      evidence_hours: float, now: datetime | None = None) -> list[int]:
    """Hand back for resend those of these candidates whose wait for evidence is over."""
    now = now or utcnow()
    return moves.resolve_in_doubt(engine, cadence, period_key, "resend", candidate_ids, now,
                                  claimed_before=now - timedelta(hours=evidence_hours))
