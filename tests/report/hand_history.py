"""A small history written by hand, whose report figures are worked out in the tests' comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tests import builders
from vivier.store.schema import Application, Decision, Interaction, Run, Send

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday of 2026-W10: the weekly message leaves
MONTHLY_AT = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)  # every attribution window has closed
DAY = timedelta(days=1)


def _run(conn: sa.Connection, cadence: str, period_key: str, at: datetime) -> int:
    return conn.execute(sa.insert(Run).returning(Run.id), {
        "cadence": cadence, "period_key": period_key, "dry_run": False, "state": "completed",
        "started_at": at, "heartbeat_at": at, "summary": {}}).scalar_one()


def _send(conn: sa.Connection, candidate_id: int, run_id: int, *, status: str = "sent",
          cadence: str = "weekly", period_key: str = "2026-W10", segment: str | None = "tech",
          at: datetime = T0) -> int:
    return conn.execute(sa.insert(Send).returning(Send.id), {
        "candidate_id": candidate_id, "cadence": cadence, "period_key": period_key,
        "status": status, "run_id": run_id, "segment": segment, "created_at": at,
        "sent_at": at if status == "sent" else None,
        "message_id": f"<{cadence}.{period_key}.c{candidate_id}@test>" if status == "sent" else None,
    }).scalar_one()


def _event(conn: sa.Connection, kind: str, candidate_id: int | None, send_id: int | None,
           at: datetime, **details: Any) -> None:
    conn.execute(sa.insert(Interaction), {
        "candidate_id": candidate_id, "send_id": send_id, "kind": kind, "occurred_at": at,
        "details": details, "event_key": f"{kind}-{candidate_id}-{send_id}-{at.isoformat()}"})


def _applied(conn: sa.Connection, candidate_id: int, at: datetime, outcome: str = "applied") -> None:
    conn.execute(sa.insert(Application), {
        "candidate_id": candidate_id, "job_ref": f"JOB-{at:%Y%m%d%H%M}", "applied_at": at,
        "outcome": outcome, "source": "ats", "updated_at": at})


def _holdout(conn: sa.Connection, run_id: int, candidate_id: int, at: datetime,
             dry_run: bool = False) -> None:
    conn.execute(sa.insert(Decision), {
        "run_id": run_id, "candidate_id": candidate_id, "cadence": "weekly",
        "period_key": "2026-W10", "segment": "tech", "reason": "holdout", "dry_run": dry_run,
        "decided_at": at})


def write(engine: sa.Engine) -> dict[str, int]:
    """Weekly 2026-W10 / tech (7 messages, 3 held out) and monthly 2026-02 / default (1 message)."""
    people = {name: builders.candidate(engine) for name in
              ("c1", "c2", "c3", "c4", "c5", "c6", "c7", "h1", "h2", "h3", "h4", "m1")}
    c = people
    with engine.begin() as conn:
        weekly = _run(conn, "weekly", "2026-W10", T0)
        rerun = _run(conn, "weekly", "2026-W10", T0 + DAY)
        s = {name: _send(conn, c[name], weekly) for name in ("c1", "c2", "c3", "c4", "c5", "c6")}
        _send(conn, c["c7"], weekly, status="failed")  # eligible, never sent
        _event(conn, "message_sent", c["c1"], s["c1"], T0)
        for name in ("c1", "c2", "c3", "c6"):
            _event(conn, "delivered", c[name], s[name], T0 + timedelta(minutes=1))
        _event(conn, "opened", c["c1"], s["c1"], T0 + timedelta(hours=1))
        _event(conn, "opened", c["c1"], s["c1"], T0 + timedelta(hours=2))  # one message, counted once
        _event(conn, "clicked", c["c1"], s["c1"], T0 + timedelta(hours=1))
        _event(conn, "clicked", c["c2"], s["c2"], T0 + timedelta(hours=3))
        _event(conn, "replied", c["c1"], s["c1"], T0 + DAY)
        _event(conn, "complained", c["c3"], s["c3"], T0 + DAY)
        _event(conn, "bounced", c["c4"], s["c4"], T0, type="hard", code=550)
        _event(conn, "bounced", c["c5"], s["c5"], T0, type="soft", code=452)
        _event(conn, "unsubscribed", c["c6"], None, T0 + 2 * DAY)  # preference centre: no send_id
        _event(conn, "unsubscribed", c["c2"], None, T0 + 40 * DAY)  # too long after: nobody's
        _event(conn, "delivered", None, None, T0, orphan=True, message_id="<lost@elsewhere>")
        _applied(conn, c["c1"], T0 + 10 * DAY, "hired")
        _applied(conn, c["c2"], T0 + 30 * DAY - timedelta(minutes=1))  # last minute of the window
        _applied(conn, c["c3"], T0 + 31 * DAY)  # day 31: not credited
        _applied(conn, c["c4"], T0 - DAY)  # before the message: not credited
        _applied(conn, c["c5"], T0 + DAY)  # a soft bounce still left the building

        _holdout(conn, weekly, c["h1"], T0)
        _holdout(conn, rerun, c["h1"], T0 + DAY)  # the rerun holds them out again: one person
        _holdout(conn, weekly, c["h2"], T0)
        _holdout(conn, weekly, c["h3"], T0)
        _holdout(conn, weekly, c["h4"], T0, dry_run=True)  # a dry run decides nothing
        _applied(conn, c["h1"], T0 + 31 * DAY)  # day 31 after the first decision: not credited
        _applied(conn, c["h2"], T0 + 2 * DAY)
        _event(conn, "replied", c["h2"], None, T0 + 3 * DAY)

        monthly = _run(conn, "monthly", "2026-02", MONTHLY_AT)
        m1 = _send(conn, c["m1"], monthly, cadence="monthly", period_key="2026-02", segment=None,
                   at=MONTHLY_AT)
        _event(conn, "delivered", c["m1"], m1, MONTHLY_AT)
        _event(conn, "clicked", c["m1"], m1, MONTHLY_AT + DAY)
    return people
