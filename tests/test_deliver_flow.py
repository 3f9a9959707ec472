"""The `deliver` flow on the Prefect test harness: named by its UTC hour, the later waves, once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import app
from flows.deliver import deliver
from flows.nurture import nurture
from tests import builders
from vivier.settings import Settings, get_settings
from vivier.store.schema import Run, Send

pytestmark = pytest.mark.usefixtures("prefect_harness")

MONDAY = date(2026, 11, 23)


@pytest.fixture
def demo_windows(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's settings in the demo (a clock may be given), with the real weekly window."""
    monkeypatch.setenv("VIVIER_ENV", "demo")
    monkeypatch.setenv("VIVIER_SEND_HOURS_WEEKLY", "mon-fri 09:00-11:30")
    get_settings.cache_clear()
    return get_settings()


def flow_run_names(prefix: str) -> list[str]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=prefix)))
    return sorted(run.name for run in runs)


def test_the_deliver_flow_sends_the_later_wave_once_in_a_run_named_by_its_hour(
        engine: sa.Engine, demo_windows: Settings) -> None:
    builders.openings(engine, datetime(2026, 11, 23, tzinfo=UTC))  # something new that week
    lyon = builders.candidate(engine)
    toronto = builders.candidate(engine, city="Toronto", search_location="Toronto")
    planned = nurture(cadence="weekly", as_of=MONDAY, force=True,
                      clock=datetime(2026, 11, 23, 9, tzinfo=ZoneInfo("Europe/Paris")))
    assert planned["stages"]["sent"] == 1 and planned["waiting"] == {"America/Toronto": 1}

    early = deliver(clock=datetime(2026, 11, 23, 13, tzinfo=UTC))
    wave = deliver(clock=datetime(2026, 11, 23, 14, tzinfo=UTC))
    again = deliver(clock=datetime(2026, 11, 23, 14, 30, tzinfo=UTC))

    assert early["deliveries"] == {} and again["deliveries"] == {}
    assert wave["deliveries"]["weekly 2026-W48"]["stages"]["sent"] == 1
    with engine.connect() as conn:
        sent_by = dict(conn.execute(sa.select(Send.candidate_id, Run.kind)
                                    .join(Run, Run.id == Send.run_id).where(Send.status == "sent")).all())
    assert sent_by == {lyon: "plan", toronto: "deliver"}
    named = set(flow_run_names("deliver-2026-11-23T1%"))
    assert {"deliver-2026-11-23T13Z", "deliver-2026-11-23T14Z"} <= named


def test_a_clock_outside_the_demo_fails_the_run_and_sends_nothing(
        engine: sa.Engine, settings: Settings) -> None:
    builders.candidate(engine, city="Toronto", search_location="Toronto")
    with pytest.raises(ValueError, match="clock parameter is for the demo"):
        deliver(clock=datetime(2026, 11, 23, 14, tzinfo=UTC))
    with pytest.raises(ValueError, match="clock parameter is for the demo"):
        nurture(cadence="weekly", as_of=MONDAY, force=True, clock=datetime(2026, 11, 23, 14, tzinfo=UTC))
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Send)) == 0


def test_vivier_deliver_with_hours_shows_each_hours_wave(engine: sa.Engine, demo_windows: Settings) -> None:
    builders.openings(engine, datetime(2026, 11, 23, tzinfo=UTC))
    builders.candidate(engine, city="London", search_location="London")
    builders.candidate(engine, city="Vancouver", search_location="Vancouver")
    nurture(cadence="weekly", as_of=MONDAY, force=True,
            clock=datetime(2026, 11, 23, 9, tzinfo=ZoneInfo("Europe/Paris")))
    shown = CliRunner().invoke(app, ["deliver", "--at", "2026-11-23T09:00Z", "--hours", "9"])
    assert shown.exit_code == 0, shown.output
    assert "deliver 2026-11-23 09:00 UTC" in shown.output and "deliver 2026-11-23 17:00 UTC" in shown.output
    assert shown.output.count("weekly 2026-W48") == 2  # London's hour, then Vancouver's
    assert "deliver 2026-11-23 12:00 UTC: nothing due" in shown.output
