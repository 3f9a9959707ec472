"""A rerun of a period re-plans only what may decide differently, and decides exactly what a full
re-plan would: the same ledger, the same answer to "why not" for every candidate, the same counts."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests import builders
from vivier.pauses import record_pause
from vivier.pipeline.resources import Resources
from vivier.pipeline.run import run_period
from vivier.rules.identity import email_hash
from vivier.settings import load_settings
from vivier.store import db
from vivier.store.schema import (
    Application,
    Candidate,
    Decision,
    Interaction,
    Preference,
    Run,
    Send,
    Suppression,
)

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # a Monday morning: the weekly run's first day
CLOCKS = ("vivier.pipeline.run.utcnow", "vivier.pipeline.deliver.utcnow", "vivier.ledger.moves.utcnow",
          "vivier.pipeline.plan.utcnow", "vivier.pipeline.runs.utcnow",
          "vivier.pipeline.incremental.utcnow")
_emails = itertools.count()

person = st.fixed_dictionaries({
    "consent": st.sampled_from(["granted", "granted", "granted", "withdrawn", "denied", None]),
    "frequency": st.sampled_from([None, None, None, "weekly", "none", "monthly"]),
    "status": st.sampled_from(["active", "active", "active", "passive"]),
    "contacted_days_ago": st.sampled_from([None, None, 2, 5, 10]),
    "email": st.sampled_from(["own", "own", "own", "shared", "bad"]),
    "created_hours_ahead": st.sampled_from([None, None, None, 10, 100]),
    "reply_days_ago": st.sampled_from([None, None, 5, 29]),
    "paused_days": st.sampled_from([None, None, 1, 10]),
    "hired_days_ago": st.sampled_from([None, None, 20, 400]),
})
CHANGES = ("withdraw", "grant", "frequency_none", "move_monthly", "move_weekly", "fix_email",
           "break_email", "share_email", "suppress", "reply", "pause", "hire", "reject", "new",
           "erase")
change = st.tuples(st.integers(0, 20), st.sampled_from(CHANGES))
later = st.sampled_from([timedelta(hours=1), timedelta(days=3), timedelta(days=8),
                         timedelta(days=31)])


@contextmanager
def clock(moment: datetime) -> Iterator[None]:
    with ExitStack() as stack:
        for target in CLOCKS:
            stack.enter_context(mock.patch(target, lambda: moment))
        yield


def add_person(engine: sa.Engine, spec: dict[str, Any], shared: str) -> int:
    number = next(_emails)
    email = {"own": f"p{number}@example.org", "shared": shared, "bad": f"p{number}-at-example"}[
        spec["email"]]
    contacted = spec["contacted_days_ago"]
    ahead = spec["created_hours_ahead"]
    fields: dict[str, Any] = {"email": email, "status": spec["status"]}
    if contacted is not None:
        fields["last_contacted_at"] = T0 - timedelta(days=contacted)
    if ahead is not None:
        fields["created_at"] = T0 + timedelta(hours=ahead)
    candidate_id = builders.candidate(engine, consent=spec["consent"], frequency=spec["frequency"],
                                      **fields)
    with engine.begin() as conn:
        if spec["reply_days_ago"] is not None:
            conn.execute(sa.insert(Interaction), {
                "candidate_id": candidate_id, "kind": "replied", "details": {},
                "occurred_at": T0 - timedelta(days=spec["reply_days_ago"])})
        if spec["paused_days"] is not None:
            record_pause(conn, candidate_id, (T0 + timedelta(days=spec["paused_days"])).date(),
                         UTC, "test", "tester", now=T0 - timedelta(days=1))
        if spec["hired_days_ago"] is not None:
            application(conn, candidate_id, "hired", T0 - timedelta(days=spec["hired_days_ago"]))
    return candidate_id


def application(conn: sa.Connection, candidate_id: int, outcome: str, at: datetime) -> None:
    conn.execute(sa.insert(Application), {
        "candidate_id": candidate_id, "job_ref": f"J{candidate_id}-{next(_emails)}", "applied_at": at,
        "outcome": outcome, "source": "test", "updated_at": at})


def apply_change(engine: sa.Engine, ids: list[int], index: int, kind: str, at: datetime,
                 shared: str) -> None:
    """One change between the two runs, stamped `at` (imports backdate consents and events)."""
    who = ids[index % len(ids)]
    long_ago = at - timedelta(days=200)
    with engine.begin() as conn:
        touch = sa.update(Candidate).where(Candidate.id == who)
        if kind in ("withdraw", "grant"):
            builders_state = "withdrawn" if kind == "withdraw" else "granted"
            conn.execute(sa.text("INSERT INTO consents (candidate_id, purpose, state, source, "
                                 "evidence, recorded_at) VALUES (:c, 'nurturing', :s, 'import', "
                                 "'{}', :at)"), {"c": who, "s": builders_state,
                                                 "at": long_ago.replace(tzinfo=None)
                                                 if engine.dialect.name == "sqlite" else long_ago})
        elif kind in ("frequency_none", "move_monthly", "move_weekly"):
            frequency = {"frequency_none": "none", "move_monthly": "monthly", "move_weekly": "weekly"}[kind]
            conn.execute(sa.delete(Preference).where(Preference.candidate_id == who))
            conn.execute(sa.insert(Preference), {"candidate_id": who, "frequency": frequency,
                                                 "privileged": False, "updated_at": at, "source": "test"})
        elif kind == "fix_email":
            conn.execute(touch.values(email=f"fixed{who}@example.org", updated_at=at))
        elif kind == "break_email":
            conn.execute(touch.values(email=f"broken{who}-at-example", updated_at=at))
        elif kind == "share_email":
            conn.execute(touch.values(email=shared, updated_at=at))
        elif kind == "suppress":
            email = conn.scalar(sa.select(Candidate.email).where(Candidate.id == who))
            if email:
                conn.execute(sa.delete(Suppression).where(Suppression.email_hash == email_hash(email)))
                conn.execute(sa.insert(Suppression), {"email_hash": email_hash(email),
                                                      "reason": "complaint", "source": "events",
                                                      "created_at": long_ago})
        elif kind == "reply":
            conn.execute(sa.insert(Interaction), {"candidate_id": who, "kind": "replied",
                                                  "details": {}, "occurred_at": at - timedelta(days=2)})
        elif kind == "pause":
            record_pause(conn, who, (at + timedelta(days=2)).date(), UTC, "test", "tester", now=at)
        elif kind in ("hire", "reject"):
            application(conn, who, "hired" if kind == "hire" else "rejected", at - timedelta(days=1))
        elif kind == "erase":
            conn.execute(touch.values(email=None, first_name=None, last_name=None, erased_at=at,
                                      updated_at=at))
    if kind == "new":
        builders.candidate(engine, email=f"new{next(_emails)}@example.org",
                           created_at=at - timedelta(hours=1), updated_at=at)


def outcome(engine: sa.Engine) -> dict[int, tuple[Any, ...]]:
    """Per candidate: the period's ledger row (status, segment, template), else the latest real
    decision (reason, detail): what `vivier why` answers for the period."""
    with engine.connect() as conn:
        ledger = {row.candidate_id: ("ledger", row.status, row.segment, row.template)
                  for row in conn.execute(sa.select(Send.candidate_id, Send.status, Send.segment,
                                                    Send.template))}
        decided: dict[int, tuple[Any, ...]] = {}
        for row in conn.execute(sa.select(Decision.candidate_id, Decision.reason, Decision.detail)
                                .where(Decision.dry_run.is_(False)).order_by(Decision.id)):
            decided[row.candidate_id] = ("decision", row.reason, row.detail)
    return {**decided, **ledger}


def resources_for(url: str, incremental: bool) -> Resources:
    return Resources.build(load_settings(
        database_url=url, transport="none", batch_size=10, replan_incremental=incremental,
        quality_threshold=1.0,  # tiny pools: the gate is not what is compared
        **builders.ALWAYS_OPEN,
        secret_key="test-secret-key-of-at-least-32-bytes", team_timezone="UTC"))


COUNTED = ("extracted", "planned", "invalid", "sent")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(people=st.lists(person, min_size=2, max_size=14), changes=st.lists(change, min_size=1, max_size=6),
       gap=later)
def test_a_rerun_decides_exactly_what_a_full_re_plan_would(
        sqlite_template: Path, people: list[dict[str, Any]], changes: list[tuple[int, str]],
        gap: timedelta) -> None:
    folder = Path(tempfile.mkdtemp(prefix="replan-"))
    try:
        first_url = f"sqlite:///{folder / 'a.db'}"
        shutil.copy(sqlite_template, folder / "a.db")
        engine = db.engine_for(first_url)
        builders.weekly_content(engine)  # something new to send (nothing new, nothing sent)
        shared = f"shared{next(_emails)}@example.org"
        ids = [add_person(engine, spec, shared) for spec in people]
        with clock(T0):
            run_period(resources_for(first_url, True), "weekly", T0.date())
        t1 = T0 + gap
        for index, kind in changes:
            apply_change(engine, ids, index, kind, T0 + gap / 2, shared)
        engine.dispose()
        shutil.copy(folder / "a.db", folder / "b.db")
        full_url = f"sqlite:///{folder / 'b.db'}"
        day = date(2026, 11, 23) if t1.date() <= date(2026, 11, 29) else None
        if day is None:  # past the period: only the same period's rerun is compared
            return
        for moment in (t1, t1 + timedelta(hours=1)):  # a rerun, then a rerun of that rerun
            with clock(moment):
                rerun = run_period(resources_for(first_url, True), "weekly", moment.date())
                full = run_period(resources_for(full_url, False), "weekly", moment.date())
            assert outcome(db.engine_for(first_url)) == outcome(db.engine_for(full_url))
            assert ({k: rerun.tally.stages[k] for k in COUNTED}
                    == {k: full.tally.stages[k] for k in COUNTED})
            assert _reasons(rerun.tally.reasons) == _reasons(full.tally.reasons)
        with db.engine_for(first_url).connect() as conn:
            basis = conn.execute(sa.select(Run.plan_basis).order_by(Run.id)).scalars().all()
        assert all(basis)  # every whole-pool plan is the next rerun's basis
    finally:
        for url in (f"sqlite:///{folder / 'a.db'}", f"sqlite:///{folder / 'b.db'}"):
            db.engine_for(url).dispose()
        shutil.rmtree(folder, ignore_errors=True)


def _reasons(reasons: Any) -> dict[str, int]:
    return {reason: count for reason, count in reasons.items() if count}


@pytest.mark.both_dialects  # the settled are counted in SQL (GROUP BY) on both
@pytest.mark.usefixtures("catalog")
def test_a_rerun_of_a_completed_period_plans_nobody_again(engine, db_url) -> None:
    for _ in range(5):
        builders.candidate(engine)
    builders.candidate(engine, consent="withdrawn")
    with clock(T0):
        first = run_period(resources_for(db_url, True), "weekly", T0.date())
    with clock(T0 + timedelta(hours=2)):
        rerun = run_period(resources_for(db_url, True), "weekly", T0.date())
    assert first.tally.stages["sent"] == 5
    assert rerun.tally.stages["kept"] == 6 and rerun.tally.stages["planned"] == 0
    assert rerun.tally.stages["extracted"] == first.tally.stages["extracted"]
    assert rerun.tally.reasons["already_sent"] == 5 and rerun.tally.reasons["consent_withdrawn"] == 1
    with engine.connect() as conn:  # kept decisions are not written again
        assert conn.scalar(sa.select(sa.func.count()).select_from(Decision)) == 1


@pytest.mark.parametrize("setting", ["contact_gap_days", "segments_file"])
@pytest.mark.usefixtures("catalog")
def test_a_change_of_the_rules_plans_everyone_again(engine, db_url, tmp_path, setting) -> None:
    builders.candidate(engine, consent="withdrawn")
    with clock(T0):
        run_period(resources_for(db_url, True), "weekly", T0.date())
    changed = resources_for(db_url, True)
    if setting == "contact_gap_days":
        changed.settings = changed.settings.model_copy(update={"contact_gap_days": 3})
    else:
        copy = tmp_path / "segments.yaml"
        copy.write_text(Path(changed.settings.segments_file).read_text(encoding="utf-8") + "\n# edited\n")
        changed.settings = changed.settings.model_copy(update={"segments_file": copy})
    with clock(T0 + timedelta(hours=1)):
        rerun = run_period(changed, "weekly", T0.date())
    assert rerun.tally.stages["kept"] == 0 and rerun.tally.reasons["consent_withdrawn"] == 1


@pytest.mark.both_dialects
@pytest.mark.usefixtures("catalog")
def test_a_consent_imported_after_the_plan_is_seen_though_it_is_dated_before(engine, db_url) -> None:
    waiting = builders.candidate(engine, consent=None)
    with clock(T0):
        run_period(resources_for(db_url, True), "weekly", T0.date())
    builders.consent_event(engine, waiting, "granted", T0 - timedelta(days=30))  # backdated import
    with clock(T0 + timedelta(hours=1)):
        rerun = run_period(resources_for(db_url, True), "weekly", T0.date())
    assert rerun.tally.stages["sent"] == 1 and rerun.tally.stages["kept"] == 0
