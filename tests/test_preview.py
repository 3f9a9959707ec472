"""`vivier preview`: the plan of a period at its scheduled instant, decided as the run decides it,
written nowhere.

The property test builds random histories (consents, preferences, suppressions, this period's and
earlier periods' sends, replies, pauses, applications, contacts), previews the period, checks
that no table changed, then runs the period for real (`run_period`, clock = the scheduled instant)
and compares every candidate's decision.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests import builders
from vivier.pauses import record_pause, record_resume
from vivier.pipeline.preview import preview_period
from vivier.pipeline.resources import Resources
from vivier.pipeline.run import run_period
from vivier.rules.schedule import scheduled_instant
from vivier.settings import load_settings
from vivier.store.schema import (
    APPLICATION_OUTCOMES,
    Application,
    Base,
    Decision,
    Interaction,
    Job,
    Preference,
    Run,
    Send,
    SendItem,
    Suppression,
)
from vivier.transports.none import NoneTransport

PARIS = ZoneInfo("Europe/Paris")
# One period per cadence; each instant is that period's scheduled run (Monday / the 1st, 09:00).
PERIODS = {"weekly": ("2026-W49", "2026-W48"), "monthly": ("2026-12", "2026-11"),
           "quarterly": ("2027-Q1", "2026-Q4")}


def own_resources(db_url: str, tmp_path: Path, **overrides: Any) -> Resources:
    """Resources with the transport `none`; no quality gate (a handful of people, random data)."""
    values: dict[str, Any] = dict(
        database_url=db_url, transport="none", maildir_path=tmp_path / "outbox",
        samples_dir=tmp_path / "samples", batch_size=1000, quality_threshold=1.0,
        secret_key="test-secret-key-of-at-least-32-bytes")
    return Resources.build(load_settings(**(values | overrides)), transport=NoneTransport())


def english_opening(engine: sa.Engine, at: datetime) -> None:
    """An opening English readers read too (builders.openings are French only), past the
    privileged pool's head start."""
    with engine.begin() as conn:
        conn.execute(sa.insert(Job), {
            "external_id": "J-EN", "title": "Data analyst", "company": "Acme", "location": "Lyon",
            "expertise": "Data", "url": "https://jobs.example.org/en", "languages": ["en", "fr"],
            "published_at": at - timedelta(days=8)})


def snapshot(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    with engine.connect() as conn:
        return {table.name: sorted(map(tuple, conn.execute(sa.select(table))), key=repr)
                for table in Base.metadata.sorted_tables}


def empty_tables(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


def previewed(preview) -> dict[int, str]:  # type: ignore[no-untyped-def]
    """candidate id -> `planned:<template>` or the reason of their exclusion."""
    found: dict[int, str] = {}
    for section in preview.segments.values():
        found |= {r.person.candidate_id: f"planned:{r.template}" for r in section.recipients}
        found |= {e.person.candidate_id: e.reason for e in section.excluded}
    return found


def decided_by_run(engine: sa.Engine, run_id: int) -> dict[int, str]:
    with engine.connect() as conn:
        planned = conn.execute(sa.select(Send.candidate_id, Send.template).where(Send.run_id == run_id))
        reasons = conn.execute(
            sa.select(Decision.candidate_id, Decision.reason).where(Decision.run_id == run_id))
        return {cid: f"planned:{template}" for cid, template in planned} | dict(reasons.all())


# One person's history, each part relative to the scheduled instant.
person = st.fixed_dictionaries({
    "status": st.sampled_from(("active", "active", "passive", "former")),
    "consent": st.sampled_from(("granted",) * 6 + (None, "withdrawn", "denied")),
    "frequency": st.sampled_from((None,) * 6 + ("weekly", "monthly", "quarterly", "none")),
    "suppressed": st.sampled_from((False, False, False, True)),
    "bad_email": st.sampled_from((False, False, False, False, True)),
    "expertise": st.sampled_from(("Data", "Data", "Finance")),
    "contacted_hours_ago": st.one_of(st.none(), st.integers(1, 24 * 12)),
    "this_period": st.sampled_from((None, None, None, "pending", "sent", "failed", "in_doubt")),
    "shown_before": st.booleans(),  # an earlier period's message showed every opening
    # Each `st.none()` more makes the fact rarer: most people have a plain history.
    "replied_days_ago": st.one_of(st.none(), st.none(), st.integers(0, 45)),
    "pause": st.one_of(st.none(), st.none(),
                       st.tuples(st.integers(-2, 3), st.booleans())),  # (until, resumed)
    "application": st.one_of(st.none(), st.none(), st.none(),
                             st.tuples(st.sampled_from(APPLICATION_OUTCOMES), st.integers(0, 420))),
})


def write_history(engine: sa.Engine, cadence: str, instant: datetime, people: list[dict[str, Any]],
                  with_openings: bool) -> None:
    key, previous = PERIODS[cadence]
    if with_openings:
        builders.openings(engine, instant)
    with engine.connect() as conn:
        jobs = list(conn.scalars(sa.select(Job.id)))
    for n, history in enumerate(people):
        contacted = history["contacted_hours_ago"]
        candidate_id = builders.candidate(
            engine, consent=history["consent"], frequency=history["frequency"],
            suppressed=history["suppressed"], status=history["status"],
            expertise=history["expertise"],
            email=f"not-an-address-{n}" if history["bad_email"] else f"p{n}@example.org",
            last_contacted_at=None if contacted is None else instant - timedelta(hours=contacted))
        at = instant - timedelta(days=1)
        with engine.begin() as conn:
            if history["this_period"]:
                conn.execute(sa.insert(Send), {
                    "candidate_id": candidate_id, "cadence": cadence, "period_key": key,
                    "status": history["this_period"], "created_at": at, "segment": "default",
                    "template": cadence})
            if history["shown_before"]:
                send_id = conn.execute(sa.insert(Send).returning(Send.id), {
                    "candidate_id": candidate_id, "cadence": cadence, "period_key": previous,
                    "status": "sent", "created_at": at - timedelta(days=20),
                    "sent_at": at - timedelta(days=20)}).scalar_one()
                if jobs:
                    conn.execute(sa.insert(SendItem), [{"send_id": send_id, "kind": "job", "item_id": job}
                                                      for job in jobs])
            if history["replied_days_ago"] is not None:
                conn.execute(sa.insert(Interaction), {
                    "candidate_id": candidate_id, "kind": "replied", "details": {},
                    "occurred_at": instant - timedelta(days=history["replied_days_ago"], hours=1)})
            if history["pause"]:
                until, resumed = history["pause"]
                record_pause(conn, candidate_id, instant.date() + timedelta(days=until), PARIS,
                             "talks with a client", "ana", now=at - timedelta(days=3))
                if resumed:
                    record_resume(conn, candidate_id, "ana", now=at)
            if history["application"]:
                outcome, days_ago = history["application"]
                changed = instant - timedelta(days=days_ago)
                conn.execute(sa.insert(Application), {
                    "candidate_id": candidate_id, "job_ref": f"ATS-{n}", "outcome": outcome,
                    "applied_at": changed - timedelta(days=3), "updated_at": changed})


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@hypothesis_settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cadence=st.sampled_from(sorted(PERIODS)), people=st.lists(person, min_size=2, max_size=8),
       with_openings=st.booleans())
def test_a_preview_decides_what_the_scheduled_run_decides_and_writes_nothing(
        db_url, engine, tmp_path, cadence, people, with_openings) -> None:
    empty_tables(engine)
    key = PERIODS[cadence][0]
    instant = scheduled_instant(cadence, key, PARIS)
    write_history(engine, cadence, instant, people, with_openings)
    before = snapshot(engine)

    preview = preview_period(own_resources(db_url, tmp_path), cadence, instant.date())

    assert snapshot(engine) == before, "the preview wrote to the database"
    assert (preview.period_key, preview.instant) == (key, instant)
    summary = run_period(own_resources(db_url, tmp_path), cadence, instant.date(),
                         now=instant.astimezone(UTC), force=True)
    assert previewed(preview) == decided_by_run(engine, summary.run_id)


def test_the_clock_is_the_scheduled_instant_not_now(engine, tmp_path, db_url) -> None:
    """Contact gaps, pauses and replies count up to Monday 09:00, not up to when one previews."""
    monday = scheduled_instant("weekly", "2026-W49", PARIS)  # 2026-11-30 09:00 Paris
    thursday = monday - timedelta(days=4)
    builders.openings(engine, monday)
    contacted = builders.candidate(engine, last_contacted_at=thursday)  # gap 6 days: not yet
    long_ago = builders.candidate(engine, last_contacted_at=monday - timedelta(days=6))
    paused_to_sunday = builders.candidate(engine)
    paused_to_monday = builders.candidate(engine)
    with engine.begin() as conn:
        record_pause(conn, paused_to_sunday, date(2026, 11, 29), PARIS, "x", "ana", now=thursday)
        record_pause(conn, paused_to_monday, date(2026, 11, 30), PARIS, "x", "ana", now=thursday)
    resources = own_resources(db_url, tmp_path)

    next_monday = previewed(preview_period(resources, "weekly", now=thursday))
    assert next_monday == {contacted: "recently_contacted", long_ago: "planned:weekly",
                           paused_to_sunday: "planned:weekly", paused_to_monday: "paused"}
    assert previewed(preview_period(resources, "weekly", date(2026, 12, 2))) == next_monday  # same week
    a_week_later = previewed(preview_period(resources, "weekly", date(2026, 12, 7)))
    assert a_week_later[contacted] == a_week_later[paused_to_monday] == "planned:weekly"


def test_recipients_show_privileged_zone_openings_and_one_message_per_template_and_language(
        engine, tmp_path, db_url) -> None:
    monday = scheduled_instant("weekly", "2026-W49", PARIS)
    builders.openings(engine, monday)
    english_opening(engine, monday)
    french = builders.candidate(engine, first_name="Zoé")
    english = builders.candidate(engine, locale="en", first_name="Ann")
    second_french = builders.candidate(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(Preference), {"candidate_id": english, "frequency": "weekly",
                                             "privileged": True, "updated_at": monday, "source": "test"})
    preview = preview_period(own_resources(db_url, tmp_path), "weekly", monday.date())

    section = preview.segments["tech"]  # Data profiles (segments.yaml)
    people = {r.person.candidate_id: r for r in section.recipients}
    assert set(people) == {french, english, second_french}
    assert people[english].person.privileged and not people[french].person.privileged
    assert people[french].person.zone == "Europe/Paris"
    assert "Data engineer 0 · Acme · Lyon" in people[french].openings
    assert people[english].openings == ("Data analyst · Acme · Lyon",)
    assert sorted(section.messages) == [("weekly", "en"), ("weekly", "fr")]
    message = section.messages[("weekly", "fr")]
    assert message.candidate_id == french  # the first recipient (by id) of that template × language
    headers = dict(message.headers)
    assert headers["To"].startswith("Zoé Martin") and headers["Message-ID"] == (
        f"<weekly.2026-W49.c{french}@vivier.example>")
    assert "List-Unsubscribe" in headers and "Data engineer 0" in message.html
    assert "Data engineer 0" in message.text and "Zoé" in message.text


def test_a_candidate_gets_their_message_or_the_reason_why_not(engine, tmp_path, db_url) -> None:
    monday = scheduled_instant("weekly", "2026-W49", PARIS)
    builders.openings(engine, monday)
    sent_to = builders.candidate(engine, first_name="Inès")
    withdrawn = builders.candidate(engine, consent="withdrawn")
    passive = builders.candidate(engine, status="passive")
    erased = builders.candidate(engine, erased_at=monday - timedelta(days=1))
    resources = own_resources(db_url, tmp_path)

    def answer(candidate_id: int, **options: Any) -> Any:
        return preview_period(resources, "weekly", monday.date(), candidate_id=candidate_id,
                              **options).candidate

    mine = answer(sent_to)
    assert mine.message is not None and "Inès" in mine.message.text and mine.why_not is None
    assert answer(withdrawn).why_not == "consent_withdrawn"
    assert answer(passive).why_not.startswith("not in the weekly pool: their cadence is monthly")
    assert answer(erased).why_not.startswith("erased")
    assert answer(sent_to, segments=("hr-france",)).why_not.startswith("in segment tech, not in hr-france")


def test_a_segment_preview_holds_only_that_segment(engine, tmp_path, db_url) -> None:
    monday = scheduled_instant("weekly", "2026-W49", PARIS)
    builders.openings(engine, monday)
    builders.candidate(engine, expertise="Finance")
    tech = builders.candidate(engine)  # Data: the tech segment
    resources = own_resources(db_url, tmp_path)
    preview = preview_period(resources, "weekly", monday.date(), segments=("tech",))
    assert set(preview.segments) == {"tech"}
    assert {e.person.candidate_id for e in preview.segments["tech"].excluded} | {
        r.person.candidate_id for r in preview.segments["tech"].recipients} == {tech}
    assert preview.tally.stages["outside_segments"] == 1


@pytest.mark.both_dialects
def test_a_preview_of_a_suppressed_address_and_sent_period_reads_but_never_writes(
        engine, tmp_path, db_url) -> None:
    monday = scheduled_instant("weekly", "2026-W49", PARIS)
    builders.openings(engine, monday)
    planned = builders.candidate(engine)
    suppressed = builders.candidate(engine, suppressed=True)
    sent = builders.candidate(engine)
    with engine.begin() as conn:
        run_id = conn.execute(sa.insert(Run).returning(Run.id), {
            "cadence": "weekly", "period_key": "2026-W49", "state": "completed",
            "started_at": monday, "heartbeat_at": monday, "summary": {}}).scalar_one()
        conn.execute(sa.insert(Send), {"candidate_id": sent, "cadence": "weekly", "period_key": "2026-W49",
                                       "status": "sent", "run_id": run_id, "created_at": monday})
    before = snapshot(engine)
    assert before[Suppression.__tablename__] and before[Send.__tablename__]
    found = previewed(preview_period(own_resources(db_url, tmp_path), "weekly", monday.date()))
    assert found == {planned: "planned:weekly", suppressed: "suppressed", sent: "already_sent"}
    assert snapshot(engine) == before
