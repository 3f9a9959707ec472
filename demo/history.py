"""A plausible past for the demo pool, so that `make demo` ends with a report worth reading.

For the periods before the current one (8 weeks, 6 months, 4 quarters) it writes what the
pipeline and the event sources would have written: a completed run, ~10% of each segment
held out (a `holdout` decision), the others sent (ledger row with a Message-ID and a
`message_sent` interaction), then delivered/opened/clicked/replied/bounced/complained/
unsubscribed events with event keys, suppressions and withdrawn consents where an event
implies them, and applications (a few hired) in the weeks after. Deterministic for a seed
and day; a period that already has a run is skipped, so a second call adds nothing and the
demo's live runs still send the current periods. Candidates appear by id only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, exists, insert, select, update

from demo.seed import bulk_insert, insert_ignoring_conflicts
from vivier.ledger import moves as ledger_moves
from vivier.messages.context import sender_domain
from vivier.messages.mime import message_id_for
from vivier.pipeline import extract
from vivier.rules.cadences import CADENCES, next_period_start, period_key, period_start
from vivier.rules.contact import is_supported_locale
from vivier.rules.identity import email_hash
from vivier.rules.segments import Segments, load_segments
from vivier.settings import Settings
from vivier.store.schema import Application, Candidate, Consent, Decision, Interaction, Run, Send, Suppression

PAST_PERIODS = {"weekly": 8, "monthly": 6, "quarterly": 4}
POOL_LIMIT = 2_000  # candidates per cadence: the history stays a few seconds at any demo size
HOLDOUT_SHARE = 0.10
DEMO_JOBS = 60  # seed.plan_jobs: DEMO-JOB-0001 ... DEMO-JOB-0060


@dataclass(frozen=True)
class Engagement:
    """Chances per delivered message, and of applying anyway in a period (messaged or not)."""

    click: float
    reply: float
    apply_after_message: float  # within two weeks of the message: what nurturing brings
    apply_anyway: float  # at any time in the period: what would have happened without it


# Recruiting newsletters: active candidates click and apply most, former ones reply to a check-in.
ENGAGEMENT = {
    "weekly": Engagement(click=0.09, reply=0.015, apply_after_message=0.04, apply_anyway=0.006),
    "monthly": Engagement(click=0.05, reply=0.010, apply_after_message=0.025, apply_anyway=0.01),
    "quarterly": Engagement(click=0.04, reply=0.035, apply_after_message=0.02, apply_anyway=0.008),
}
SEGMENT_LIFT = {"hr-canada": 1.4, "tech": 1.15, "hr-france": 0.9}
HARD_BOUNCE, SOFT_BOUNCE, OPEN, COMPLAINT, UNSUBSCRIBE, HIRED = 0.012, 0.01, 0.38, 0.002, 0.004, 0.12
OTHER_OUTCOMES = ("applied", "screening", "interview", "rejected", "rejected", "withdrawn")
Row = dict[str, Any]


@dataclass
class HistorySummary:
    periods: int = 0
    skipped_periods: int = 0
    sends: int = 0
    holdouts: int = 0
    interactions: int = 0
    applications: int = 0


def past_periods(cadence: str, as_of: date, count: int) -> list[str]:
    """The `count` period keys before the one that contains `as_of`, oldest first."""
    keys: list[str] = []
    start = period_start(cadence, period_key(cadence, as_of))
    for _ in range(count):
        keys.append(period_key(cadence, start - timedelta(days=1)))
        start = period_start(cadence, keys[-1])
    return keys[::-1]


def _after(rng: random.Random, moment: datetime, low_hours: float, high_hours: float) -> datetime:
    return moment + timedelta(seconds=int(3600 * (low_hours + rng.random() * (high_hours - low_hours))))


def message_events(rng: random.Random, chances: Engagement, lift: float, sent_at: datetime,
                   complaints: bool) -> list[tuple[str, datetime, Row]]:
    """What happened to one message: (kind, when, details), in the order providers report it."""
    draw = rng.random()
    if draw < HARD_BOUNCE:
        return [("bounced", _after(rng, sent_at, 0, 0.01), {"type": "hard", "code": 550})]
    if draw < HARD_BOUNCE + SOFT_BOUNCE:
        return [("bounced", _after(rng, sent_at, 0, 0.5), {"type": "soft", "code": 452})]
    events: list[tuple[str, datetime, Row]] = [("delivered", _after(rng, sent_at, 0, 0.02), {})]
    clicked = rng.random() < chances.click * lift
    if clicked or rng.random() < OPEN:
        opened = _after(rng, sent_at, 0.1, 72)
        events.append(("opened", opened, {}))
        if clicked:
            events.append(("clicked", _after(rng, opened, 0, 2), {}))
    if rng.random() < chances.reply * lift:
        events.append(("replied", _after(rng, sent_at, 2, 120), {}))
    elif complaints and rng.random() < COMPLAINT:
        events.append(("complained", _after(rng, sent_at, 1, 48), {}))
    elif rng.random() < UNSUBSCRIBE:
        events.append(("unsubscribed", _after(rng, sent_at, 0.2, 240), {"source": "preference_centre"}))
    return events


def application(rng: random.Random, chance: float, since: datetime,
                days: float) -> tuple[datetime, str] | None:
    """Maybe an application in the `days` after `since`, and its outcome today."""
    if rng.random() >= chance:
        return None
    outcome = "hired" if rng.random() < HIRED else rng.choice(OTHER_OUTCOMES)
    return _after(rng, since, 4, days * 24), outcome


def _pool(engine: Engine, cadence: str) -> list[Row]:
    """The cadence's candidates a run would message today (consenting, reachable, valid-looking)."""
    with engine.connect() as conn:
        bounds = extract.batch_bounds(conn, cadence, POOL_LIMIT, POOL_LIMIT)
        if not bounds:
            return []
        hi = bounds[-1][1]
        rows = extract.read_batch(conn, cadence, 0, hi)
        consents = extract.latest_consents(conn, 0, hi)
        silenced = extract.suppressed(conn, (email_hash(r["email"]) for r in rows if r["email"]))
    return [row for row in rows
            if consents.get(row["id"]) == "granted" and row["frequency"] != "none"
            and "@" in (row["email"] or "") and email_hash(row["email"]) not in silenced
            and (row["first_name"] or "").strip() and is_supported_locale(row["locale"] or "")]


def seed_history(engine: Engine, settings: Settings, as_of: date, seed: int = 42,
                 now: datetime | None = None) -> HistorySummary:
    """Write the demo pool's past periods (idempotent: a period with a run is left as it is)."""
    now = now or datetime.now(UTC)
    segments = load_segments(settings.segments_file)
    summary = HistorySummary()
    for cadence in CADENCES:
        pool = _pool(engine, cadence)
        for row in pool:
            row["segment"] = segments.assign(row)
        gone: set[int] = set()  # bounced, complained or unsubscribed in an earlier period
        for key in past_periods(cadence, as_of, PAST_PERIODS[cadence]):
            with engine.begin() as conn:
                if conn.scalar(select(exists().where(Run.cadence == cadence, Run.period_key == key))):
                    summary.skipped_periods += 1
                    continue
                writer = _PeriodWriter(conn, settings, cadence, key, now, segments)
                writer.write(random.Random(f"{seed}-{cadence}-{key}"), pool, gone, summary)
            summary.periods += 1
    with engine.begin() as conn:  # the contact gap sees the history's messages
        latest = (select(Send.sent_at).where(Send.candidate_id == Candidate.id, Send.status == "sent")
                  .order_by(Send.sent_at.desc()).limit(1).scalar_subquery())
        conn.execute(update(Candidate).where(
            exists().where(Send.candidate_id == Candidate.id, Send.status == "sent"),
            (Candidate.last_contacted_at.is_(None)) | (Candidate.last_contacted_at < latest),
        ).values(last_contacted_at=latest))
    return summary


class _PeriodWriter:
    """Everything one past cadence × period leaves in the database, written in one transaction."""

    def __init__(self, conn: Connection, settings: Settings, cadence: str, key: str, now: datetime,
                 segments: Segments) -> None:
        self.conn, self.cadence, self.key, self.now, self.segments = conn, cadence, key, now, segments
        self.domain = sender_domain(settings)
        self.sent_at = datetime.combine(period_start(cadence, key), time(9), settings.zone).astimezone(UTC)
        self.period_end = datetime.combine(next_period_start(cadence, key), time(9),
                                           settings.zone).astimezone(UTC)
        # No complaint in the guardrail's trailing window: the demo's live runs must not trip it.
        self.complaints = self.sent_at < now - timedelta(days=settings.complaint_window_days + 1)
        self.interactions: list[Row] = []
        self.applications: list[Row] = []
        self.suppressions: list[Row] = []
        self.consents: list[Row] = []

    def write(self, rng: random.Random, pool: list[Row], gone: set[int], summary: HistorySummary) -> None:
        started = self.sent_at - timedelta(minutes=1)
        audience = [row for row in pool if row["created_at"] < started]
        run_id = self.conn.execute(insert(Run).returning(Run.id), {
            "cadence": self.cadence, "period_key": self.key, "dry_run": False, "state": "completed",
            "started_at": started, "heartbeat_at": self.sent_at, "finished_at": self.sent_at,
            "summary": {"demo_history": True}}).scalar_one()
        decisions, sends = [], []
        for order, row in enumerate(audience):
            held_out = rng.random() < HOLDOUT_SHARE
            reason = "suppressed" if row["id"] in gone else "holdout" if held_out else None
            if reason:
                decisions.append({"run_id": run_id, "candidate_id": row["id"], "cadence": self.cadence,
                                  "period_key": self.key, "segment": row["segment"], "reason": reason,
                                  "dry_run": False, "decided_at": started,
                                  "privileged": bool(row["privileged"])})
                continue
            at = self.sent_at + timedelta(seconds=2 * order)
            sends.append({"candidate_id": row["id"], "cadence": self.cadence, "period_key": self.key,
                          "run_id": run_id, "segment": row["segment"],
                          "template": self.segments.template(row["segment"], self.cadence),
                          "message_id": message_id_for(self.cadence, self.key, row["id"], self.domain),
                          "attempts": 1, "created_at": started, "claimed_at": at, "sent_at": at,
                          "privileged": bool(row["privileged"])})
        bulk_insert(self.conn, cast(Table, Decision.__table__), decisions)
        ledger_moves.record_history(self.conn, sends)
        ids = dict(self.conn.execute(select(Send.candidate_id, Send.id).where(
            Send.cadence == self.cadence, Send.period_key == self.key)).all())
        chances = ENGAGEMENT[self.cadence]
        people = {row["id"]: row for row in audience}
        for send in sends:
            candidate = people[send["candidate_id"]]
            self._message(rng, candidate, ids[candidate["id"]], send["sent_at"], chances, gone)
        for decision in decisions:
            if decision["reason"] == "holdout":
                self._held_out(rng, people[decision["candidate_id"]], started)
        length = (self.period_end - started).total_seconds() / 86400
        for row in audience:  # job seekers apply on their own too: the holdout measures that
            self._application(rng, row, chances.apply_anyway, started, length)
        self._flush()
        summary.sends += len(sends)
        summary.holdouts += sum(d["reason"] == "holdout" for d in decisions)
        summary.interactions += len(self.interactions)
        summary.applications += len(self.applications)

    def _message(self, rng: random.Random, candidate: Row, send_id: int, sent_at: datetime,
                 chances: Engagement, gone: set[int]) -> None:
        lift = SEGMENT_LIFT.get(candidate["segment"], 1.0)
        self._event(candidate["id"], send_id, "message_sent", sent_at, {"segment": candidate["segment"]})
        for kind, at, details in message_events(rng, chances, lift, sent_at, self.complaints):
            if at > self.now:
                continue  # has not happened yet
            linked = None if kind == "unsubscribed" else send_id  # the preference centre knows no send
            self._event(candidate["id"], linked, kind, at, details)
            if kind in ("complained", "unsubscribed") or details.get("type") == "hard":
                gone.add(candidate["id"])
                self._silence(candidate, kind, at, details)
        self._application(rng, candidate, chances.apply_after_message * lift, sent_at, 14)

    def _held_out(self, rng: random.Random, candidate: Row, decided_at: datetime) -> None:
        if rng.random() < 0.004:  # some write to a recruiter anyway
            self._event(candidate["id"], None, "replied", _after(rng, decided_at, 24, 600), {})

    def _event(self, candidate_id: int, send_id: int | None, kind: str, at: datetime, details: Row) -> None:
        if at > self.now:
            return
        self.interactions.append({
            "candidate_id": candidate_id, "send_id": send_id, "kind": kind, "cadence": self.cadence,
            "period_key": self.key, "flow_run_id": None, "details": details, "occurred_at": at,
            "event_key": f"demo:{self.cadence}:{self.key}:c{candidate_id}:{kind}"})

    def _silence(self, candidate: Row, kind: str, at: datetime, details: Row) -> None:
        """What the event sources do: suppress the address; a complaint or unsubscribe also withdraws."""
        reason = {"complained": "complaint", "unsubscribed": "unsubscribe"}.get(kind, "hard_bounce")
        self.suppressions.append({"email_hash": email_hash(candidate["email"]), "reason": reason,
                                  "source": "demo_history", "created_at": at})
        if kind != "bounced":
            self.consents.append({"candidate_id": candidate["id"], "purpose": "nurturing",
                                  "state": "withdrawn", "source": "demo_history",
                                  "evidence": {"event": kind}, "recorded_at": at})

    def _application(self, rng: random.Random, candidate: Row, chance: float, since: datetime,
                     days: float) -> None:
        drawn = application(rng, chance, since, days)
        if drawn and drawn[0] <= self.now:
            at, outcome = drawn
            self.applications.append({
                "candidate_id": candidate["id"], "job_ref": f"DEMO-JOB-{rng.randrange(1, DEMO_JOBS + 1):04d}",
                "applied_at": at, "outcome": outcome, "source": "demo_history", "updated_at": at})

    def _flush(self) -> None:
        bulk_insert(self.conn, cast(Table, Interaction.__table__), self.interactions)
        bulk_insert(self.conn, cast(Table, Consent.__table__), self.consents)
        insert_ignoring_conflicts(self.conn, cast(Table, Suppression.__table__), self.suppressions)
        # The same person may apply to the same opening again: the ATS keeps one application.
        insert_ignoring_conflicts(self.conn, cast(Table, Application.__table__), self.applications)
