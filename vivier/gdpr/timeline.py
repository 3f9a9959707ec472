"""A candidate's timeline: everything the record holds about them, oldest first, one line each.

Consent events, preference changes, applications, recruiters' pauses, each run's decision and
send, and what came back (delivered, opened, clicked, replied, bounced, complained,
unsubscribed). Each fact comes from the table that owns it, once: the consent log (not its
`consent_*` echo in interactions), the ledger (not `message_sent`), the applications (not the
import's `applied`/`hired` echo). Ties on the same instant keep one order: consent, preference,
application, pause, decision, send, then what came back, each by row id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from vivier.pipeline import extract
from vivier.store.schema import Application, Consent, Decision, Interaction, Preference, Send

# Interactions whose fact another table owns: shown from there.
ECHOES = frozenset({"message_sent", "applied", "hired", "consent_granted", "consent_withdrawn",
                    "consent_denied"})
TIE_ORDER = ("consent", "preference", "application", "pause", "decision", "send", "event")


@dataclass(frozen=True)
class Moment:
    """One dated fact about the candidate."""

    at: datetime
    kind: str  # consent, preference_changed, applied, paused, decision, send, delivered, clicked…
    summary: str  # one line for a person; ids, never an address
    cadence: str | None = None
    period_key: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    group: str = field(default="event", compare=False)  # its TIE_ORDER group
    row_id: int = field(default=0, compare=False)

    def sort_key(self) -> tuple[datetime, int, int]:
        return self.at, TIE_ORDER.index(self.group), self.row_id


def candidate_timeline(
    conn: Connection, candidate_id: int, cadence: str | None = None, period_key: str | None = None,
) -> list[Moment]:
    """Every dated fact about one candidate, oldest first; with `cadence` / `period_key`, the
    facts of other cadences or periods are left out (facts of no period stay)."""
    moments = [*_consents(conn, candidate_id), *_preferences(conn, candidate_id),
               *_applications(conn, candidate_id), *_decisions(conn, candidate_id),
               *_sends(conn, candidate_id), *_interactions(conn, candidate_id)]
    if cadence:
        moments = [m for m in moments if m.cadence in (None, cadence)]
    if period_key:
        moments = [m for m in moments if m.period_key in (None, period_key)]
    return sorted(moments, key=Moment.sort_key)


def _consents(conn: Connection, candidate_id: int) -> list[Moment]:
    rows = conn.execute(select(Consent).where(Consent.candidate_id == candidate_id))
    return [Moment(row.recorded_at, "consent", f"consent {row.state} ({row.purpose}, source {row.source})",
                   details={"state": row.state, "purpose": row.purpose, "source": row.source,
                            "consent_id": row.id},
                   group="consent", row_id=row.id)
            for row in rows]


def _preferences(conn: Connection, candidate_id: int) -> list[Moment]:
    """The current choice, when no recorded change explains it (an import, the seeder)."""
    row = conn.execute(select(Preference).where(Preference.candidate_id == candidate_id)).first()
    if row is None:
        return []
    changed = conn.scalar(select(Interaction.id).where(
        Interaction.candidate_id == candidate_id, Interaction.kind == "preference_changed",
        Interaction.occurred_at == row.updated_at).limit(1))
    if changed is not None:
        return []
    privileged = "privileged pool" if row.privileged else "not privileged"
    return [Moment(row.updated_at, "preference", f"preference {row.frequency}, {privileged} "
                   f"(source {row.source})",
                   details={"frequency": row.frequency, "privileged": row.privileged,
                            "source": row.source}, group="preference")]


def _applications(conn: Connection, candidate_id: int) -> list[Moment]:
    """Each application when it was made, and its outcome when it was reached (if not `applied`)."""
    decided = {fact.job_ref: fact for fact in
               extract.applications(conn, candidate_id - 1, candidate_id).get(candidate_id, [])}
    moments = []
    for row in conn.execute(select(Application).where(Application.candidate_id == candidate_id)):
        details = {"job": row.job_ref, "outcome": row.outcome}
        moments.append(Moment(row.applied_at, "applied", f"applied to job {row.job_ref}",
                              details=details, group="application", row_id=row.id))
        if row.outcome != "applied":
            at = decided[row.job_ref].decided_at if row.job_ref in decided else row.updated_at
            moments.append(Moment(at, row.outcome, f"application to job {row.job_ref}: {row.outcome}",
                                  details=details, group="application", row_id=row.id))
    return moments


def _decisions(conn: Connection, candidate_id: int) -> list[Moment]:
    rows = conn.execute(select(Decision).where(Decision.candidate_id == candidate_id))
    return [Moment(row.decided_at, "decision",
                   f"{'dry run: ' if row.dry_run else ''}not messaged: {row.reason}"
                   + (f" ({row.detail})" if row.detail else ""),
                   row.cadence, row.period_key,
                   {"reason": row.reason, "detail": row.detail, "run_id": row.run_id,
                    "segment": row.segment, "dry_run": row.dry_run},
                   group="decision", row_id=row.id)
            for row in rows]


def _sends(conn: Connection, candidate_id: int) -> list[Moment]:
    rows = conn.execute(select(Send).where(Send.candidate_id == candidate_id))
    moments = []
    for row in rows:
        what = f"message {row.status}" + (f" ({row.template}, segment {row.segment})" if row.template else "")
        what += f": {row.error}" if row.error else ""
        moments.append(Moment(
            row.sent_at or row.claimed_at or row.created_at, "send", what,
            row.cadence, row.period_key,
            {"status": row.status, "template": row.template, "template_version": row.template_version,
             "segment": row.segment, "message_id": row.message_id, "run_id": row.run_id},
            group="send", row_id=row.id))
    return moments


def _interactions(conn: Connection, candidate_id: int) -> list[Moment]:
    rows = conn.execute(select(Interaction).where(
        Interaction.candidate_id == candidate_id, Interaction.kind.not_in(sorted(ECHOES))))
    return [Moment(row.occurred_at, row.kind, _describe(row.kind, row.details or {}),
                   row.cadence, row.period_key, dict(row.details or {}),
                   group="pause" if row.kind in ("paused", "resumed") else
                   "preference" if row.kind == "preference_changed" else "event", row_id=row.id)
            for row in rows]


def _describe(kind: str, details: dict[str, Any]) -> str:
    """One line per interaction kind, from its details (a URL, a bounce type, a pause's reason)."""
    if kind == "preference_changed":
        return f"preference changed: {details.get('field')} {details.get('from')} → {details.get('to')}"
    if kind == "paused":
        return (f"paused through {details.get('until')} by {details.get('by')}: "
                f"{details.get('reason')}")
    if kind == "resumed":
        return f"pause ended by {details.get('by')}"
    if kind == "clicked" and details.get("url"):
        return f"clicked {details['url']}"
    if kind == "bounced":
        return f"bounced ({details.get('type') or 'unknown'})"
    return kind.replace("_", " ")
