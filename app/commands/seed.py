"""`vivier seed`: a realistic, deterministic demo talent pool."""

from __future__ import annotations

from datetime import date, datetime

import typer
from rich.progress import MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from app.commands.common import console, engine, err_console, load
from demo.seed import SeedSummary, seed_demo

PROGRESS_FROM = 20_000  # below this, seeding takes a second or two: no bar


def seed(
    candidates: int = typer.Option(1000, "--candidates", "-n", min=0,
                                   help="How many demo candidates (DEMO-000001…)."),
    random_seed: int = typer.Option(42, "--seed", help="Same seed, same candidates."),
    as_of: str = typer.Option(None, "--as-of", show_default="today in the team's time zone",
                              help="Date (YYYY-MM-DD) every demo date is relative to."),
) -> None:
    """Fill the database with demo candidates, consents, preferences, openings and content.

    Same --candidates, --seed and --as-of give the same rows.

    Safe to run again: demo rows already there (DEMO-…) are skipped.

    Emails use example.org/.com/.net only; ~2% of candidates are deliberately messy.

    Example: vivier seed --candidates 100000 --seed 7 --as-of 2026-11-23
    """
    settings = load()
    if as_of is None:
        day = datetime.now(settings.zone).date()
    else:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            err_console.print(f"[red]--as-of {as_of!r} is not a date: use YYYY-MM-DD[/red]")
            raise typer.Exit(2) from None
    database = engine(settings)
    if candidates < PROGRESS_FROM:
        summary = seed_demo(database, candidates, random_seed, day, settings.zone)
    else:
        columns = (*Progress.get_default_columns()[:-1], MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("seeding candidates", total=candidates)
            summary = seed_demo(database, candidates, random_seed, day, settings.zone,
                                on_progress=lambda done: progress.update(task, completed=done))
    console.print(summary_table(summary))


def summary_table(summary: SeedSummary) -> Table:
    """What the run added, one line per table."""
    table = Table(title=f"Demo data as of {summary.as_of}", show_edge=False)
    table.add_column("rows")
    table.add_column("added", justify="right")
    table.add_row("candidates", f"{summary.candidates:,}")
    table.add_row("  of which deliberately messy", f"{summary.messy_candidates:,}")
    table.add_row("  already there (skipped)", f"{summary.skipped_candidates:,}")
    table.add_row("consent events", f"{summary.consents:,}")
    table.add_row("preferences", f"{summary.preferences:,}")
    table.add_row("suppressions", f"{summary.suppressions:,}")
    table.add_row("openings (jobs)", f"{summary.jobs:,}")
    table.add_row("content", f"{summary.content:,}")
    return table
