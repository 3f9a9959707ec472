"""The demo's history: plausible past periods, deterministic, written once, never the current period."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime

import sqlalchemy as sa

from demo.history import past_periods, seed_history
from demo.seed import seed_demo
from vivier.report import ReportFilters, build_report
from vivier.rules.cadences import period_key
from vivier.store import db
from vivier.store.schema import Application, Decision, Interaction, Run, Send

AS_OF = date(2026, 3, 18)
NOW = datetime(2026, 3, 18, 8, 0, tzinfo=UTC)


def table_sizes(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {model.__tablename__: conn.scalar(sa.select(sa.func.count()).select_from(model))
                for model in (Run, Send, Decision, Interaction, Application)}


def test_past_periods_end_just_before_the_current_one() -> None:
    assert past_periods("weekly", AS_OF, 3) == ["2026-W09", "2026-W10", "2026-W11"]
    assert past_periods("monthly", AS_OF, 2) == ["2026-01", "2026-02"]
    assert past_periods("quarterly", AS_OF, 2) == ["2025-Q3", "2025-Q4"]


def test_history_is_written_once_for_past_periods_only(engine, settings) -> None:
    seed_demo(engine, 300, 42, AS_OF, settings.zone)
    first = seed_history(engine, settings, AS_OF, now=NOW)
    sizes = table_sizes(engine)
    again = seed_history(engine, settings, AS_OF, now=NOW)

    assert first.periods == 8 + 6 + 4 and first.sends > 500 and first.applications > 0
    assert (again.periods, again.sends, again.interactions) == (0, 0, 0)
    assert again.skipped_periods == first.periods
    assert table_sizes(engine) == sizes
    with engine.connect() as conn:
        keys = set(conn.execute(sa.select(Send.cadence, Send.period_key).distinct()).all())
        latest_event = conn.scalar(sa.select(sa.func.max(Interaction.occurred_at)))
        unkeyed = conn.scalar(sa.select(sa.func.count()).where(Interaction.event_key.is_(None)))
        holdouts = conn.scalar(sa.select(sa.func.count()).where(Decision.reason == "holdout"))
    for cadence in ("weekly", "monthly", "quarterly"):
        assert (cadence, period_key(cadence, AS_OF)) not in keys  # the live run sends these
    assert latest_event <= NOW and unkeyed == 0
    assert 0.06 < holdouts / (holdouts + first.sends) < 0.14


def history_report(engine: sa.Engine, settings):  # type: ignore[no-untyped-def]
    seed_demo(engine, 300, 42, AS_OF, settings.zone)
    summary = seed_history(engine, settings, AS_OF, now=NOW)
    return summary, build_report(engine, ReportFilters(), settings.attribution_days, settings.zone, now=NOW)


def test_history_is_deterministic_and_reads_as_a_report(engine, settings, sqlite_template, tmp_path) -> None:
    summary, report = history_report(engine, settings)
    other = tmp_path / "other.db"
    shutil.copy(sqlite_template, other)
    _, same = history_report(db.engine_for(f"sqlite:///{other}"), settings)
    assert same.rows == report.rows  # the same figures on another database, from the same seed
    total = report.total
    assert total.sent == summary.sends and total.holdout == summary.holdouts
    assert 0.95 < total.over_sent(total.delivered) < 0.995  # bounces at realistic rates
    assert 0 < total.clicked < total.opened < total.delivered
    assert 0 < total.hired < total.applied and total.replied > 0
    assert {row.cadence for row in report.rows} == {"weekly", "monthly", "quarterly"}
