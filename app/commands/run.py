"""`vivier run` and `vivier demo`: run the cadences locally and show what happened."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.markdown import Markdown

from app.commands.common import console, engine, err_console, load
from vivier.rules.cadences import CadenceName, PeriodTooLate
from vivier.rules.segments import SegmentProblem


def run(
    cadence: CadenceName = typer.Argument(..., help="weekly, monthly or quarterly"),
    as_of: str | None = typer.Option(None, "--as-of", help="a day of the period (YYYY-MM-DD)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="decide and render, send nothing"),
    limit: int | None = typer.Option(None, "--limit", min=1, help="only the first N candidates"),
    segment: list[str] | None = typer.Option(None, "--segment", help="only this segment (repeat)"),
    force: bool = typer.Option(False, "--force", help="send a period past its lateness limit"),
) -> None:
    """Run one cadence now, for the period that contains --as-of (default: today).

    Examples:

      vivier run weekly                       # this ISO week's message to active candidates

      vivier run monthly --dry-run            # who would get this month's message, and why not

      vivier run weekly --segment hr-canada --limit 50

      vivier run quarterly --as-of 2026-07-01 --force   # a late quarter, on purpose
    """
    settings = load()
    engine(settings)
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        err_console.print(f"[red]--as-of {as_of!r} is not a date: use YYYY-MM-DD[/red]")
        raise typer.Exit(2) from None
    summary = run_cadence(cadence, day, dry_run=dry_run, limit=limit, segments=segment, force=force)
    show(summary)


# A local run starts Prefect's ephemeral server: give a busy laptop time, and send no telemetry.
PREFECT_LOCAL_DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
}


def run_cadence(
    cadence: CadenceName, day: date | None, *, run_name: str | None = None,
    run_tags: tuple[str, ...] = (), **options: Any,
) -> dict[str, Any]:
    """Run the flow in this process; refusals become a clean error, not a traceback."""
    if problem := load().signing_key_problem():  # before Prefect starts: a setting to fix
        err_console.print(f"[red]{problem}[/red]")
        raise typer.Exit(2)
    for name, value in PREFECT_LOCAL_DEFAULTS.items():
        os.environ.setdefault(name, value)
    from prefect import tags

    from flows.nurture import nurture
    from vivier.pipeline.run import RunStopped

    flow = nurture.with_options(flow_run_name=run_name) if run_name else nurture
    try:
        with tags(*run_tags):
            return flow(cadence=cadence, as_of=day, **options)
    except (PeriodTooLate, SegmentProblem) as refusal:
        err_console.print(f"[red]{refusal}[/red]")
        raise typer.Exit(2) from None
    except RunStopped as stopped:  # the run failed and says why and what to do: no traceback
        err_console.print(Markdown("\n\n".join(stopped.notes)))
        raise typer.Exit(1) from None


def show(summary: dict[str, Any]) -> None:
    from vivier.pipeline.summary import RunSummary
    from vivier.pipeline.tally import Tally

    run = RunSummary(summary["cadence"], summary["period_key"], summary["as_of"],
                     summary["dry_run"], summary["run_id"], summary["flow_run_id"],
                     Tally.from_dict(summary), summary["seconds"], summary["outcome"],
                     summary["notes"])
    console.print(Markdown(run.markdown()))


def demo(
    candidates: int = typer.Option(500, help="demo candidates to seed (first run only)"),
) -> None:
    """Set up the embedded default (SQLite + Maildir), seed demo data, run the three cadences."""
    from demo.seed import seed_demo
    from demo.waves import demo_clock
    from vivier.messages.shown import carried

    os.environ["VIVIER_ENV"] = "demo"  # the demo key signs the demo's links; nothing else may
    from vivier.settings import get_settings

    get_settings.cache_clear()
    settings = load()
    eng = engine(settings, create=True)
    console.rule("[bold]vivier demo")
    from vivier.rules.cadences import today_in

    seed_demo(eng, candidates, 42, today_in(settings.zone), settings.zone)
    from demo.history import seed_history  # past periods, so the report has a story

    seed_history(eng, settings, today_in(settings.zone))
    clock = demo_clock(settings, today_in(settings.zone))
    console.print(f"The demo runs every cadence as the deployments would, at {clock:%A %d %B %H:%M} "
                  f"({settings.team_timezone}), forcing periods past their lateness limit (scheduled "
                  "deployments run on time and never need it). Each message leaves in its "
                  "candidate's own morning: the others wait for the hourly deliver.")
    periods = []
    for cadence in CadenceName:
        summary = run_cadence(cadence, clock.date(), force=True, clock=clock)
        periods.append((cadence.value, summary["period_key"]))
        show(summary)
        with eng.connect() as conn:
            with_items = carried(conn, summary["run_id"])
        console.print(f"{cadence.value}: of {summary['stages'].get('sent', 0):,} messages sent, "
                      f"{with_items['openings']:,} carried openings and {with_items['content']:,} "
                      f"content; {summary['reasons'].get('nothing_new', 0):,} candidates had "
                      "nothing new (not messaged)")
    show_waves(eng, periods, clock)
    outbox = Path(settings.maildir_path)
    sample = next(iter(sorted((outbox / "new").glob("*"))), None)
    from app.commands.report import demo_report

    console.rule("[bold]the nurturing report")
    report_file = demo_report(outbox.parent / "report.html")
    console.rule("[bold]where to look")
    console.print(f"database:  {settings.database_url}")
    console.print(f"outbox:    {outbox}/ (a Maildir: open it with `mutt -f {outbox}`)")
    if sample:
        console.print(f"a message: {sample}")
    console.print(f"report:    {report_file} (open it in a browser; `vivier report --help` for more)")
    console.print("again:     `make demo` reruns the cadences; nothing is sent twice.")


def show_waves(eng: Any, periods: list[tuple[str, str]], clock: Any) -> None:
    """Sent now and waiting, per time zone; the later waves and the command that sends them."""
    from datetime import timedelta

    from rich.table import Table

    from demo.waves import by_zone, next_waves

    with eng.connect() as conn:
        zones, waves = by_zone(conn, periods, clock), next_waves(conn, periods, clock)
    console.rule("[bold]send windows: each candidate's own morning")
    table = Table("time zone", "sent now", "waiting", title=f"the three cadences at {clock:%Y-%m-%d %H:%M %Z}")
    for zone, counts in sorted(zones.items()):
        table.add_row(zone, f"{counts['sent']:,}", f"{counts['waiting']:,}")
    console.print(table)
    console.print("The outbox holds only what was due. Later waves:")
    for opening, zone, count in waves[:12]:
        console.print(f"  {opening.astimezone(clock.tzinfo):%a %d %b %H:%M} ({zone}): {count:,}")
    if waves:
        first, last = waves[0][0], waves[-1][0]
        hours = min(168, int((last - first) / timedelta(hours=1)) + 1)
        console.print("send them hour by hour, as the hourly `deliver` deployment would:\n"
                      f"  VIVIER_ENV=demo vivier deliver --at {first.astimezone(clock.tzinfo).isoformat()} "
                      f"--hours {hours}")
