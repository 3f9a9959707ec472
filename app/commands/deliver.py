"""`vivier deliver`: send the planned messages whose send window has opened (the hourly deployment's work)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import typer
from rich.markdown import Markdown
from rich.table import Table

from app.commands.common import console, engine, err_console, load


def deliver(
    at: str | None = typer.Option(None, "--at", help="deliver as if it were this instant, ISO 8601 with its offset (VIVIER_ENV=demo only)"),
    hours: int = typer.Option(1, "--hours", min=1, max=168, help="with --at: this many hourly deliveries, an hour apart (demo)"),
) -> None:
    """Send now every planned message whose send window has opened in the candidate's own time zone.

    A cadence run sends the messages whose window is open when it runs; the others wait (vivier status shows them by time zone). The hourly `deliver` deployment sends them as their windows open; this verb does the same by hand, e.g. after an outage. Rows whose window came after the period's lateness limit lapse (never sent); rows whose window closed unsent wait for the next one.

    Examples:

      vivier deliver                                         # what is due now

      VIVIER_ENV=demo vivier deliver --at 2026-11-23T15:00+01:00

      VIVIER_ENV=demo vivier deliver --at 2026-11-23T10:00+01:00 --hours 9   # the day's waves, hour by hour
    """
    settings = load()
    engine(settings)
    if at is None and hours > 1:
        err_console.print("[red]--hours needs --at: the hour to start from (demo)[/red]")
        raise typer.Exit(2)
    if at is not None and not settings.is_demo:
        err_console.print("[red]--at is for the demo (VIVIER_ENV=demo): in production a deliver "
                          "sends what is due now, leave --at out[/red]")
        raise typer.Exit(2)
    start = _instant(at) if at is not None else None
    for hour in range(hours):
        moment = start + timedelta(hours=hour) if start is not None else None
        show(run_deliver(moment), moment)


def _instant(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        err_console.print(f"[red]--at {value!r} is not an instant: use e.g. 2026-11-23T15:00+01:00[/red]")
        raise typer.Exit(2) from None
    if moment.tzinfo is None:
        err_console.print(f"[red]--at {value!r} has no offset: add one (+01:00, Z)[/red]")
        raise typer.Exit(2)
    return moment.astimezone(UTC)


def run_deliver(moment: datetime | None) -> dict[str, Any]:
    """Run the `deliver` flow in this process; a stopped period is shown, not a traceback."""
    from app.commands.run import PREFECT_LOCAL_DEFAULTS

    for name, value in PREFECT_LOCAL_DEFAULTS.items():
        os.environ.setdefault(name, value)
    from flows.deliver import deliver as deliver_flow
    from flows.deliver import hour_name

    flow = deliver_flow.with_options(flow_run_name=hour_name(moment)) if moment else deliver_flow
    try:
        return flow(clock=moment)
    except RuntimeError as stopped:  # some period stopped: it says why; the others were sent
        err_console.print(Markdown(str(stopped)))
        raise typer.Exit(1) from None


def show(result: dict[str, Any], moment: datetime | None) -> None:
    when = f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "now"
    if not result["deliveries"] and not result["lapsed"] and not result["rescheduled"]:
        console.print(f"deliver {when}: nothing due")
        return
    table = Table("period", "sent", "still waiting", "outcome", title=f"deliver {when}")
    for name, summary in result["deliveries"].items():
        stages = summary.get("stages", {})
        table.add_row(name, f"{stages.get('sent', 0):,}", f"{stages.get('waiting', 0):,}",
                      summary.get("outcome", "?"))
    if result["deliveries"]:
        console.print(table)
    for name, count in sorted(result["lapsed"].items()):
        console.print(f"{name}: {count:,} lapsed (their window came after the lateness limit: not sent)")
    if result["rescheduled"]:
        console.print(f"{result['rescheduled']:,} missed their window: moved to their next one")
