"""A person with a full history in every table, identifiers scattered where real data puts them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tests import builders
from vivier.store.schema import Application, Consent, Decision, Interaction, Preference, Run, Send

LONG_AGO = datetime(2023, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    id: int
    email: str
    first_name: str
    last_name: str

    @property
    def identifiers(self) -> list[str]:
        return [self.email, self.first_name, self.last_name]


def person_with_history(
    engine: sa.Engine, first_name: str, last_name: str, email: str, *, at: datetime = LONG_AGO
) -> Person:
    """One candidate with consents, a preference, a sent message, interactions and decisions."""
    candidate_id = builders.candidate(engine, consent=None, email=email, first_name=first_name,
                                      last_name=last_name, city="Grenoble", tags=["senior"],
                                      created_at=at, updated_at=at)
    full = f"{first_name} {last_name}"
    with engine.begin() as conn:
        conn.execute(sa.insert(Consent), [
            {"candidate_id": candidate_id, "purpose": "nurturing", "state": "granted",
             "source": "web_form", "recorded_at": at + timedelta(days=1),
             "evidence": {"form": "application", "ip": "203.0.113.7",
                          "user_agent": "Mozilla/5.0 (X11; Linux)", "note": f"signed by {full}",
                          "submitted": {"email": email, "name": full, "checkbox": "ticked"}}},
            {"candidate_id": candidate_id, "purpose": "nurturing", "state": "withdrawn",
             "source": "email_reply", "recorded_at": at + timedelta(days=30),
             "evidence": {"quote": f"{first_name} here, please stop", "from": email,
                          "ipv6": "2001:db8:85a3:0:0:8a2e:370:7334"}},
            {"candidate_id": candidate_id, "purpose": "nurturing", "state": "granted",
             "source": "preference_centre", "recorded_at": at + timedelta(days=40),
             "evidence": {"page": "preferences", "channel": "email_link"}},
        ])
        conn.execute(sa.insert(Preference), {
            "candidate_id": candidate_id, "frequency": "monthly", "privileged": True,
            "updated_at": at + timedelta(days=40), "source": "preference_centre"})
        run_id = conn.execute(sa.insert(Run).returning(Run.id), {
            "cadence": "monthly", "period_key": "2023-02", "state": "completed",
            "started_at": at, "heartbeat_at": at, "summary": {}}).scalar_one()
        send_id = conn.execute(sa.insert(Send).returning(Send.id), {
            "candidate_id": candidate_id, "cadence": "monthly", "period_key": "2023-02",
            "status": "sent", "run_id": run_id, "segment": "default", "template": "monthly",
            "template_version": "abc123", "message_id": f"<monthly.2023-02.{candidate_id}@vivier.example>",
            "attempts": 1, "error": f"452 mailbox of <{email}> over quota, retried",
            "created_at": at + timedelta(days=35), "sent_at": at + timedelta(days=35)}).scalar_one()
        base = {"candidate_id": candidate_id, "send_id": send_id, "cadence": "monthly",
                "period_key": "2023-02"}
        conn.execute(sa.insert(Interaction), [
            {**base, "kind": "message_sent", "occurred_at": at + timedelta(days=35),
             "details": {"segment": "default", "template": "monthly"}},
            {**base, "kind": "opened", "occurred_at": at + timedelta(days=36),
             "details": {"user_agent": "Thunderbird/115", "ip_address": "198.51.100.23"}},
            {**base, "kind": "replied", "occurred_at": at + timedelta(days=37),
             "event_key": f"reply:{email}:1",
             "details": {"body": f"Merci ! {full}", "headers": {"From": f"{full} <{email}>"}}},
            {**base, "kind": "clicked", "occurred_at": at + timedelta(days=38),
             "details": {"url": "https://jobs.example.org/1", "remote_addr": "192.0.2.44",
                         "comment": f"clicked from {email.upper()}"}},
        ])
        conn.execute(sa.insert(Application), {
            "candidate_id": candidate_id, "job_ref": "JOB-77", "applied_at": at + timedelta(days=50),
            "outcome": "interview", "source": "ats", "updated_at": at + timedelta(days=55)})
        conn.execute(sa.insert(Decision), {
            "run_id": run_id, "candidate_id": candidate_id, "cadence": "monthly",
            "period_key": "2023-03", "segment": "default", "reason": "render_error",
            "detail": f"template monthly: greeting for {first_name} failed", "dry_run": False,
            "decided_at": at + timedelta(days=60)})
    return Person(candidate_id, email, first_name, last_name)
