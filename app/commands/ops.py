"""`vivier backfill`, `vivier status`, `vivier in-doubt`: what an ops team does by hand."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.commands.common import console, day_option, engine, err_console, load
from app.commands.run import run_cadence, show
from vivier.ledger.status import period_status, resolve_in_doubt
from vivier.pipeline.backfill import plan_backfill
from vivier.rules.cadences import CadenceName, period_start, today_in


def backfill(
    cadence: CadenceName = typer.Argument(..., help="weekly, monthly or quarterly"),
    since: str = typer.Option(..., "--since", help="first day to cover (YYYY-MM-DD)"),
    until: str = typer.Option(..., "--until", help="last day to cover (YYYY-MM-DD)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="decide and render, send nothing"),
    force: bool = typer.Option(False, "--force", help="also run periods past their lateness limit"),
    skip_refused: bool = typer.Option(False, "--skip-refused",
                                      help="exit 0 even when periods past their lateness limit were refused"),
) -> None:
    """Run every missed period between --since and --until, oldest first.

    A period is complete (skipped) when the ledger says so: no pending or failed message, and everyone who may be messaged now was considered; a period with new eligible candidates or failed messages runs again. Periods past their lateness limit are refused unless --force, and the backfill then exits 1 listing them unless --skip-refused. Each period is one `nurture` run named backfill-<cadence>-<period> and tagged `vivier`, `backfill` and the cadence. Rerunning a backfill sends nothing twice.

    Examples:

    What would run, without sending:
      vivier backfill weekly --since 2026-10-01 --until 2026-11-20 --dry-run

    Send the missed weeks, even those past the 6-day lateness limit:
      vivier backfill weekly --since 2026-10-01 --until 2026-11-20 --force

    Catch up on recent months only (older ones are refused and listed):
      vivier backfill monthly --since 2026-09-01 --until 2026-11-01
    """
    settings = load()
    eng = engine(settings)
    start, end = day_option(since, "--since"), day_option(until, "--until")
    try:
        steps = plan_backfill(eng, cadence, start, end, today_in(settings.zone),
                              settings.lateness_days(cadence), force)
    except ValueError as problem:
        err_console.print(f"[red]{problem}[/red]")
        raise typer.Exit(2) from None
    table = Table("period", "action", "reason", "sent", title=f"backfill {cadence}")
    runnable = [step for step in steps if step.action == "run"]
    sent: dict[str, int] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console) as progress:
        bar = progress.add_task(f"backfill {cadence}", total=len(runnable))
        for step in runnable:
            progress.update(bar, description=f"{cadence} {step.period_key}")
            summary = run_cadence(cadence, step.as_of, dry_run=dry_run, force=True,
                                  run_name=f"backfill-{cadence}-{step.period_key}",
                                  run_tags=("vivier", "backfill", cadence.value))
            sent[step.period_key] = summary["stages"].get("sent", 0)
            progress.advance(bar)
    for step in steps:
        table.add_row(step.period_key, step.action, step.reason, str(sent.get(step.period_key, "")))
    console.print(table)
    refused = [step.period_key for step in steps if step.action == "refuse"]
    if refused and not skip_refused:
        err_console.print(f"[red]{len(refused)} period(s) refused, past their lateness limit: "
                          f"{', '.join(refused)}.[/red] Add --force to send them anyway, or "
                          "--skip-refused to accept leaving them out.")
        raise typer.Exit(1)


def status(
    cadence: CadenceName = typer.Argument(..., help="weekly, monthly or quarterly"),
    period: str = typer.Option(..., "--period", help="period key, e.g. 2026-W48, 2026-11, 2026-Q4"),
) -> None:
    """Show the ledger of one period: sends by status, decisions by reason, in-doubt ids, runs.

    Example: vivier status weekly --period 2026-W48
    """
    settings = load()
    try:
        period_start(cadence, period)
    except ValueError as problem:
        err_console.print(f"[red]{problem}[/red]")
        raise typer.Exit(2) from None
    found = period_status(engine(settings), cadence, period)
    ledger = Table("status", "sends", title=f"{cadence} {period}: ledger")
    for name, count in sorted(found.ledger.items()):
        ledger.add_row(name, f"{count:,}")
    reasons = Table("reason", "candidates", title="not messaged (latest run)")
    for name, count in sorted(found.reasons.items(), key=lambda item: -item[1]):
        reasons.add_row(name, f"{count:,}")
    runs = Table("run", "flow run id", "state", "dry run", "started", title="runs of this period")
    for run in found.runs:
        runs.add_row(str(run["id"]), run["flow_run_id"] or "-", run["state"], str(run["dry_run"]),
                     f"{run['started_at']:%Y-%m-%d %H:%M} UTC")
    console.print(ledger, reasons)
    if found.failures:
        failures = Table("reply code or reason", "messages", title="failed sends")
        for reason, count in found.failures.items():
            failures.add_row(reason, f"{count:,}")
        console.print(failures)
    console.print(runs)
    if found.in_doubt:
        console.print(f"in doubt ({len(found.in_doubt)}): candidate ids "
                      + ", ".join(map(str, found.in_doubt[:200])))
        console.print(f"resolve: vivier in-doubt {cadence} --period {period} --mark-sent | --resend")


def in_doubt(
    cadence: CadenceName = typer.Argument(..., help="weekly, monthly or quarterly"),
    period: str = typer.Option(..., "--period", help="period key, e.g. 2026-W48"),
    mark_sent: bool = typer.Option(False, "--mark-sent", help="they did arrive: record them as sent"),
    resend: bool = typer.Option(False, "--resend", help="send them again now (consent re-checked)"),
    candidate: list[int] | None = typer.Option(None, "--candidate", help="only these ids (repeat)"),
) -> None:
    """Resolve in-doubt sends (a crash between handing a message over and recording it).

    Nothing in doubt is ever resent without this command. Each decision is recorded as an interaction with the operator's user name.

    Examples:

    The SMTP server's log shows they left:
      vivier in-doubt weekly --period 2026-W48 --mark-sent

    Send one again now (its consent is checked again first):
      vivier in-doubt weekly --period 2026-W48 --resend --candidate 1042
    """
    if mark_sent == resend:
        err_console.print("[red]choose exactly one of --mark-sent or --resend[/red]")
        raise typer.Exit(2)
    settings = load()
    eng = engine(settings)
    try:
        start = period_start(cadence, period)
    except ValueError as problem:
        err_console.print(f"[red]{problem}[/red]")
        raise typer.Exit(2) from None
    action = "mark_sent" if mark_sent else "resend"
    ids = resolve_in_doubt(eng, cadence, period, action, candidate)
    console.print(f"{action.replace('_', ' ')}: {len(ids)} candidate(s)"
                  + (f" ({', '.join(map(str, ids[:50]))})" if ids else ""))
    if resend and ids:
        show(run_cadence(cadence, start, force=True))
