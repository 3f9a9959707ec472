"""Plan once, deliver when due: each message leaves in its candidate's own morning, once.

The cadence run plans everyone and sends the wave whose window is open at its clock; the
hourly deliver sends each later wave when it opens; a row still waiting at the period's lateness
limit lapses; what changed while a row waited (consent, a move out of the cadence) is judged
again before it leaves.
"""

from __future__ import annotations

import email
import email.policy
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import app
from tests import builders
from vivier.pipeline import waves
from vivier.pipeline.backfill import plan_backfill
from vivier.pipeline.resources import Resources, using
from vivier.pipeline.run import run_period
from vivier.settings import get_settings, load_settings
from vivier.store.schema import Candidate, Decision, Run, Send

PARIS = ZoneInfo("Europe/Paris")
MONDAY = date(2026, 11, 23)  # 2026-W48
NINE_IN_PARIS = datetime(2026, 11, 23, 9, tzinfo=PARIS)
PLACES = {"Lyon": "Europe/Paris", "London": "Europe/London", "Montréal": "America/Toronto",
          "Calgary": "America/Edmonton", "Vancouver": "America/Vancouver"}


@pytest.fixture
def windowed(db_url: str, tmp_path: Path) -> Iterator[Resources]:
    """Resources with the default send windows (weekdays 09:00-11:30 local) and a Maildir; a tip
    and openings of that week, so that everyone has something new."""
    own = load_settings(database_url=db_url, transport="maildir", maildir_path=tmp_path / "outbox",
                        samples_dir=tmp_path / "samples", batch_size=1000,
                        secret_key="test-secret-key-of-at-least-32-bytes")
    with using(Resources.build(own)) as installed:
        builders.openings(installed.engine, NINE_IN_PARIS)
        yield installed


def people(engine: sa.Engine, *places: str) -> dict[str, int]:
    return {place: builders.candidate(engine, city=place, search_location=place) for place in places}


def outbox(resources: Resources) -> Counter[str]:
    """How many messages each address got, read from the Maildir."""
    received: Counter[str] = Counter()
    for path in (Path(resources.settings.maildir_path) / "new").glob("*"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        received[message["To"].addresses[0].addr_spec] += 1
    return received


def ledger(engine: sa.Engine) -> dict[int, sa.Row]:
    with engine.connect() as conn:
        return {row.candidate_id: row for row in conn.execute(sa.select(Send))}


def addresses(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(Candidate.id, Candidate.email)).all())


def utc(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def test_a_montreal_candidate_planned_monday_9_paris_waits_until_14_utc(windowed: Resources) -> None:
    ids = people(windowed.engine, "Lyon", "Montréal")
    summary = run_period(windowed, "weekly", MONDAY, clock=NINE_IN_PARIS, force=True)

    rows = ledger(windowed.engine)
    montreal, lyon = rows[ids["Montréal"]], rows[ids["Lyon"]]
    assert (montreal.status, montreal.not_before) == ("pending", utc(23, 14))  # 09:00 EST
    assert montreal.zone == "America/Toronto"
    assert montreal.send_by == datetime(2026, 11, 29, 23, tzinfo=UTC)  # Sunday midnight in Paris
    assert (lyon.status, lyon.not_before, lyon.zone) == ("sent", utc(23, 8), "Europe/Paris")
    assert summary.tally.stages["sent"] == 1 and summary.tally.waiting == {"America/Toronto": 1}
    assert "| America/Toronto | 1 |" in summary.markdown()
    assert set(outbox(windowed)) == {addresses(windowed.engine)[ids["Lyon"]]}  # only what was due


@pytest.mark.both_dialects
def test_the_hourly_deliver_sends_each_wave_once_in_its_own_window(windowed: Resources) -> None:
    ids = people(windowed.engine, *PLACES)
    run_period(windowed, "weekly", MONDAY, clock=NINE_IN_PARIS, force=True)
    left_at: dict[str, list[int]] = {}
    for hour in range(8, 21):
        for _ in range(2):  # the same hour twice (a retry, a second worker): nothing new
            _, summaries = waves.deliver_due(windowed, utc(23, hour))
            assert all(summary.outcome == "completed" for summary in summaries)
            for summary in summaries:
                left_at.setdefault(f"{hour:02d}", []).extend([summary.tally.stages["sent"]])

    assert {hour: sum(sent) for hour, sent in left_at.items()} == {
        "09": 1, "14": 1, "16": 1, "17": 1}  # London 09:00 GMT, 09:00 EST, MST, PST
    email_of = addresses(windowed.engine)
    assert outbox(windowed) == Counter(email_of[ids[place]] for place in PLACES)  # each once
    assert {row.status for row in ledger(windowed.engine).values()} == {"sent"}
    with windowed.engine.connect() as conn:
        kinds = Counter(conn.execute(sa.select(Run.kind)).scalars())
    assert kinds == {"plan": 1, "deliver": 4}  # a deliver run only where something was due


def test_a_row_still_waiting_at_the_lateness_limit_lapses_and_is_never_sent(windowed: Resources) -> None:
    ids = people(windowed.engine, "Lyon", "Montréal")
    run_period(windowed, "weekly", MONDAY, clock=NINE_IN_PARIS, force=True)
    # No deliver ran all week (an outage); the first one comes after Sunday midnight in Paris.
    hour, summaries = waves.deliver_due(windowed, utc(30, 14))

    assert summaries == [] and hour.lapsed == {"weekly 2026-W48": 1}
    lapsed = ledger(windowed.engine)[ids["Montréal"]]
    assert lapsed.status == "failed" and lapsed.error.startswith("lapsed")
    assert set(outbox(windowed)) == {addresses(windowed.engine)[ids["Lyon"]]}
    assert waves.deliver_due(windowed, utc(30, 15))[0].lapsed == {}  # once


def test_a_window_that_opens_after_the_lateness_limit_is_decided_too_late(windowed: Resources) -> None:
    late_sunday = datetime(2026, 11, 29, 20, tzinfo=PARIS)  # a rerun on the period's last evening
    lyon = people(windowed.engine, "Lyon")["Lyon"]
    summary = run_period(windowed, "weekly", late_sunday.date(), clock=late_sunday, force=True)

    assert summary.tally.reasons == {"too_late": 1} and ledger(windowed.engine) == {}
    with windowed.engine.connect() as conn:
        (detail,) = conn.execute(sa.select(Decision.detail).where(Decision.candidate_id == lyon)).scalars()
    assert "2026-11-30 08:00 UTC (Europe/Paris), after the period's lateness limit" in detail


def test_a_missed_window_waits_for_the_next_one(windowed: Resources) -> None:
    montreal = people(windowed.engine, "Montréal")["Montréal"]
    run_period(windowed, "weekly", MONDAY, clock=NINE_IN_PARIS, force=True)
    hour, summaries = waves.deliver_due(windowed, utc(23, 22))  # the window closed at 16:30 UTC

    assert summaries == [] and hour.rescheduled == 1
    assert ledger(windowed.engine)[montreal].not_before == utc(24, 14)
    _, summaries = waves.deliver_due(windowed, utc(24, 14))
    assert [summary.tally.stages["sent"] for summary in summaries] == [1]


def test_who_withdrew_consent_or_left_the_cadence_while_waiting_is_not_sent(windowed: Resources) -> None:
    ids = {name: builders.candidate(windowed.engine, city="Montréal", search_location="Montréal")
           for name in ("stays", "withdraws", "goes_monthly")}
    run_period(windowed, "weekly", MONDAY, clock=NINE_IN_PARIS, force=True)
    builders.consent_event(windowed.engine, ids["withdraws"], "withdrawn", utc(23, 10))
    with windowed.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO preferences (candidate_id, frequency, privileged, updated_at, "
                             "source) VALUES (:id, 'monthly', false, :at, 'test')"),
                     {"id": ids["goes_monthly"], "at": utc(23, 11)})
    _, (summary,) = waves.deliver_due(windowed, utc(23, 14))

    assert summary.tally.stages["sent"] == 1
    assert summary.tally.reasons == {"consent_withdrawn": 1, "left_pool": 1}
    assert set(ledger(windowed.engine)) == {ids["stays"]}  # the others' rows are withdrawn
    assert set(outbox(windowed)) == {addresses(windowed.engine)[ids["stays"]]}


def test_backfill_counts_waiting_rows_as_planned_not_missing(windowed: Resources) -> None:
    people(windowed.engine, "Lyon", "Vancouver")
    run_period(windowed, "weekly", MONDAY, clock=NINE_IN_PARIS, force=True)
    (step,) = plan_backfill(windowed.engine, "weekly", MONDAY, MONDAY, MONDAY + timedelta(days=1), 6,
                            force=True, now=utc(23, 12))
    assert step.action == "skip" and "1 message(s) wait for their send window" in step.reason


def test_status_shows_waiting_by_zone_and_why_shows_the_zone(windowed: Resources, settings) -> None:
    # `vivier status` and `why` read the wall clock: plan next Monday, so the row is still waiting.
    today = datetime.now(PARIS).date()
    monday = today + timedelta(days=7 - today.weekday())
    montreal = people(windowed.engine, "Lyon", "Montréal")["Montréal"]
    builders.weekly_content(windowed.engine)  # a catalog for next week too
    summary = run_period(windowed, "weekly", monday, clock=datetime.combine(monday, NINE_IN_PARIS.timetz()),
                         force=True)
    runner = CliRunner()

    status = runner.invoke(app, ["status", "weekly", "--period", summary.period_key])
    assert status.exit_code == 0, status.output
    assert "waiting for their send window" in status.output
    assert "│ America/Toronto │ 1 " in status.output and "deliver" not in status.output.split("runs")[-1]

    why = runner.invoke(app, ["why", str(montreal), "--period", summary.period_key])
    assert why.exit_code == 0, why.output
    assert "time zone: America/Toronto (from where they search)" in why.output
    as_json = json.loads(runner.invoke(app, ["why", str(montreal), "--json"]).output)
    assert as_json["zone"]["name"] == "America/Toronto"
    (period,) = as_json["periods"]
    assert (period["outcome"], period["zone"]) == ("pending", "America/Toronto")
    opens = datetime.fromisoformat(period["not_before"]).astimezone(ZoneInfo("America/Toronto"))
    assert (opens.hour, opens.minute) == (9, 0)


def test_a_clock_is_refused_outside_the_demo(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    refused = CliRunner().invoke(app, ["deliver", "--at", "2026-11-23T15:00+01:00"])
    assert refused.exit_code == 2 and "--at is for the demo" in refused.output
    monkeypatch.setenv("VIVIER_ENV", "demo")
    get_settings.cache_clear()
    no_offset = CliRunner().invoke(app, ["deliver", "--at", "2026-11-23T15:00"])
    assert no_offset.exit_code == 2 and "has no offset" in no_offset.output
    hours_alone = CliRunner().invoke(app, ["deliver", "--hours", "3"])
    assert hours_alone.exit_code == 2 and "--hours needs --at" in hours_alone.output


def test_the_preview_shows_each_recipients_own_zone(windowed: Resources) -> None:
    from vivier.pipeline.preview import preview_period

    ids = people(windowed.engine, "Lyon", "Montréal", "Edinburgh")
    preview = preview_period(windowed, "weekly", MONDAY)
    zones = {recipient.person.candidate_id: recipient.person.zone
             for section in preview.segments.values() for recipient in section.recipients}
    assert zones == {ids["Lyon"]: "Europe/Paris", ids["Montréal"]: "America/Toronto",
                     ids["Edinburgh"]: "Europe/London"}
