"""`vivier report`: what nurturing brings, per cadence, segment and period, against the holdout."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from app.commands.common import console, day_option, engine, err_console, load, refuse
from vivier.report import ReportFilters, build_report
from vivier.report.html import write_html
from vivier.report.render import rich_tables
from vivier.rules.cadences import CadenceName
from vivier.store.files import OutputProblem, check_target


def _day(value: str | None, option: str) -> date | None:
    return day_option(value, option) if value is not None else None


def report(
    since: str | None = typer.Option(None, "--since", help="first day of messages/holdout decisions (YYYY-MM-DD)"),
    until: str | None = typer.Option(None, "--until", help="last day, included (YYYY-MM-DD)"),
    cadence: CadenceName | None = typer.Option(None, "--cadence", help="weekly, monthly or quarterly"),
    segment: str | None = typer.Option(None, "--segment", help="one segment (as in segments.yaml, or default)"),
    html: Path | None = typer.Option(None, "--html", help="also write a self-contained HTML report here (only a new file or an earlier report is written)"),
    summary: bool = typer.Option(False, "--summary", help="one row per cadence and segment, not per period"),
) -> None:
    """Print the nurturing report: delivery, engagement, applications and hires, uplift against the holdout.

    Rates are shares of the messages sent; applications and hires count within VIVIER_ATTRIBUTION_DAYS (30) after a message. Opens are shown but unreliable (mail clients pre-fetch images). The uplift compares the messaged group with the held-out one, with both sizes and a 95% margin. Dates are days in the team's time zone, applied to when a message was sent or a candidate held out. Figures only: no candidate is named.

    Examples:

      vivier report                                   # all history, per period

      vivier report --since 2026-09-01 --summary      # this autumn, one row per cadence and segment

      vivier report --cadence weekly --segment tech --html var/report-tech.html

      vivier report --since 2026-10-01 --until 2026-10-31 --html var/report.html
    """
    settings = load()
    if html:
        try:  # before the figures are computed: a wrong path is the operator's to fix first
            check_target(html, make_folder=True)
        except OutputProblem as problem:
            refuse(problem)
    filters = ReportFilters(since=_day(since, "--since"), until=_day(until, "--until"),
                            cadence=cadence.value if cadence else None, segment=segment)
    if filters.since and filters.until and filters.since > filters.until:
        err_console.print(f"[red]--since {since} is after --until {until}: nothing to report[/red]")
        raise typer.Exit(2)
    figures = build_report(engine(settings), filters, settings.attribution_days, settings.zone)
    console.print(rich_tables(figures, detail=not summary))
    if html:
        try:
            written = write_html(figures, html, settings.templates_dir)
        except OutputProblem as problem:
            refuse(problem)
        console.print(f"HTML report: {written} (self-contained: open it in any browser, offline)")


def demo_report(path: Path) -> Path:
    """The demo's last word: the report per cadence and segment, and the HTML file at `path`."""
    settings = load()
    figures = build_report(engine(settings), ReportFilters(), settings.attribution_days, settings.zone)
    console.print(rich_tables(figures, detail=False))
    return write_html(figures, path, settings.templates_dir)
