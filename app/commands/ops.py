"""`vivier backfill`, `vivier status`, `vivier in-doubt`: what an ops team does by hand."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.commands.common import console, day_option, engine, err_console, load
from app.commands.run import run_cadence, show
from vivier.ledger.reconcile import from_accepted_ids, read_accepted_ids, resend_after_wait
from vivier.ledger.reconcile import in_doubt as in_doubt_sends
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
    """Show the ledger of one period: sends by status, decisions by reason, messages waiting for their send window (by time zone), in-doubt ids, runs (plan and deliver).

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
    runs = Table("run", "kind", "flow run id", "state", "dry run", "started", title="runs of this period")
    for run in found.runs:
        runs.add_row(str(run["id"]), run["kind"], run["flow_run_id"] or "-", run["state"], str(run["dry_run"]),
                     f"{run['started_at']:%Y-%m-%d %H:%M} UTC")
    console.print(ledger, reasons)
    if found.waiting:
        waiting = Table("time zone", "messages", title="waiting for their send window (the hourly deliver sends them)")
        for zone, count in found.waiting.items():
            waiting.add_row(zone, f"{count:,}")
        console.print(waiting)
    if found.failures:
        failures = Table("reply code or reason", "messages", title="failed sends")
        for reason, count in found.failures.items():
            failures.add_row(reason, f"{count:,}")
        console.print(failures)
    console.print(runs)
    if found.in_doubt:
        console.print(f"in doubt ({len(found.in_doubt)}): candidate ids "
                      + ", ".join(map(str, found.in_doubt[:200])))
        console.print(f"settle from evidence: vivier in-doubt {cadence} --period {period} --reconcile "
                      "ACCEPTED_IDS_FILE (or --mark-sent; --resend --candidate ID once no evidence came)")


def in_doubt(
    cadence: CadenceName = typer.Argument(..., help="weekly, monthly or quarterly"),
    period: str = typer.Option(..., "--period", help="period key, e.g. 2026-W48"),
    reconcile: Path | None = typer.Option(
        None, "--reconcile", help="the mail server's accepted-id log: mark sent what it accepted"),
    mark_sent: bool = typer.Option(False, "--mark-sent", help="they did arrive: record them as sent"),
    resend: bool = typer.Option(False, "--resend",
                                help="send these --candidate ids again now (consent re-checked)"),
    candidate: list[int] | None = typer.Option(None, "--candidate", help="only these ids (repeat)"),
) -> None:
    """Show, reconcile and resolve in-doubt sends (a crash between handing a message over and recording it).

    A delivered or bounced event (webhook or `vivier import events`) marks its in-doubt send sent by itself. --reconcile FILE does the same from the mail server's accepted-id log: `.csv` with a message_id column, `.jsonl` with a message_id field, or one Message-ID per line (bare, in <>, or a log line holding message-id=<...>). What has no evidence after VIVIER_IN_DOUBT_EVIDENCE_HOURS is listed for resend, and is only resent with --resend --candidate ID. Each decision is recorded as an interaction with the evidence or the operator's user name.

    Examples:

    What is in doubt, and what may be resent:
      vivier in-doubt weekly --period 2026-W48

    Settle from the MTA's log:
      grep -i 'message-id=' /var/log/mail.log > accepted.txt
      vivier in-doubt weekly --period 2026-W48 --reconcile accepted.txt

    Send one again now (its consent is checked again first):
      vivier in-doubt weekly --period 2026-W48 --resend --candidate 1042

    You checked they arrived:
      vivier in-doubt weekly --period 2026-W48 --mark-sent
    """
    if (reconcile is not None) + mark_sent + resend > 1:
        err_console.print("[red]choose at most one of --reconcile, --mark-sent or --resend[/red]")
        raise typer.Exit(2)
    if resend and not candidate:
        err_console.print("[red]--resend needs the --candidate ids to send again[/red] (listed by "
                          f"`vivier in-doubt {cadence} --period {period}`)")
        raise typer.Exit(2)
    settings = load()
    eng = engine(settings)
    try:
        start = period_start(cadence, period)
    except ValueError as problem:
        err_console.print(f"[red]{problem}[/red]")
        raise typer.Exit(2) from None
    hours = settings.in_doubt_evidence_hours
    if reconcile is not None:
        try:
            accepted = read_accepted_ids(reconcile)
        except (OSError, ValueError) as problem:
            err_console.print(f"[red]cannot read {reconcile}: {problem}[/red]")
            raise typer.Exit(2) from None
        if accepted.rejected:
            err_console.print(f"{len(accepted.rejected)} line(s) hold no Message-ID, skipped: lines "
                              + ", ".join(map(str, accepted.rejected[:20])))
        ids = from_accepted_ids(eng, cadence, period, accepted.message_ids, reconcile.name)
        console.print(f"reconciled from {reconcile.name}: {len(ids)} candidate(s) marked sent")
    elif mark_sent:
        ids = resolve_in_doubt(eng, cadence, period, "mark_sent", candidate)
        console.print(f"mark sent: {len(ids)} candidate(s)" + (f" ({', '.join(map(str, ids[:50]))})" if ids else ""))
    elif resend and candidate:
        ids = resend_after_wait(eng, cadence, period, candidate, hours)
        console.print(f"resend: {len(ids)} candidate(s)" + (f" ({', '.join(map(str, ids[:50]))})" if ids else ""))
        if kept := sorted(set(candidate) - set(ids)):
            err_console.print(f"not resent (not in doubt, or still waiting for evidence for {hours:g} h): "
                              + ", ".join(map(str, kept[:50])))
        if ids:
            show(run_cadence(cadence, start, force=True))
    found = in_doubt_sends(eng, cadence, period, hours)
    if found.waiting:
        until = max(found.waiting.values())
        console.print(f"waiting for evidence ({len(found.waiting)}, until {until:%Y-%m-%d %H:%M} UTC at "
                      "the latest): " + ", ".join(map(str, list(found.waiting)[:200])))
    if found.resendable:
        console.print(f"no evidence after {hours:g} h ({len(found.resendable)}): "
                      + ", ".join(map(str, found.resendable[:200])))
        console.print(f"resend: vivier in-doubt {cadence} --period {period} --resend --candidate ID")
    if not found.waiting and not found.resendable:
        console.print(f"nothing in doubt for {cadence} {period}")
