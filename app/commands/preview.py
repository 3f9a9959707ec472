"""`vivier preview`: who gets what at a cadence's next scheduled run, decided now, written nowhere."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from app.commands.common import (
    check_output,
    console,
    day_option,
    engine,
    load,
    refuse,
    write_team_page,
)
from app.commands.gdpr import _candidate_id
from vivier.pipeline.preview import Preview, Sample, preview_period
from vivier.report.team_pages import decision_rows, write_preview
from vivier.rules.cadences import CadenceName
from vivier.rules.segments import SegmentProblem


def preview(
    cadence: CadenceName = typer.Argument(..., help="weekly, monthly or quarterly"),
    as_of: str | None = typer.Option(
        None, "--as-of", help="a day of the period (YYYY-MM-DD); default: the next scheduled run"),
    segment: list[str] | None = typer.Option(None, "--segment", help="only this segment (repeat)"),
    html: Path | None = typer.Option(
        None, "--html", help="also write the page with people and messages here (0600), e.g. var/preview.html"),
    candidate: str | None = typer.Option(
        None, "--candidate", help="show this person's message, or why they get none (id or ATS id)"),
) -> None:
    """What the scheduled run of a period would do, decided as it would decide: nothing is sent or recorded.

    The clock is the run's scheduled instant (prefect.yaml: weekly Mondays, monthly the 1st,
    quarterly the 1st of Jan/Apr/Jul/Oct, 09:00 in VIVIER_TEAM_TIMEZONE), so contact gaps,
    reply pauses, `vivier pause`, applications and lateness count up to that moment. Without
    --as-of: the next scheduled run (today's if it is still to come). No Prefect server needed.

    Prints the counts by decision per segment. --html writes a page for the team (personal
    data, 0600): per segment the counts, who gets the message (ATS id, name, locale, zone,
    privileged, openings chosen), who does not and why, and each template × language as a
    recipient's mail client would show it (headers, HTML, text).

    Examples:

      vivier preview weekly                                   # next Monday's send

      vivier preview weekly --as-of 2026-11-30 --html var/preview.html

      vivier preview monthly --segment tech --candidate T-000012
    """
    settings = load()
    day = day_option(as_of, "--as-of") if as_of else None
    if html is not None:
        check_output(html)
    if weak_key := settings.signing_key_problem():  # the messages' links are signed
        refuse(ValueError(weak_key))
    database = engine(settings)
    candidate_id = None
    if candidate is not None:
        with database.connect() as conn:
            candidate_id = _candidate_id(conn, candidate)
    from vivier.pipeline.resources import Resources
    from vivier.transports.none import NoneTransport

    try:
        resources = Resources.build(settings, transport=NoneTransport())
        found = preview_period(resources, cadence.value, day, segments=tuple(segment or ()),
                               candidate_id=candidate_id)
    except SegmentProblem as problem:
        refuse(problem)
    show(found)
    if html is not None:
        write_team_page(lambda: write_preview(found, html, settings.templates_dir))


def show(found: Preview) -> None:
    """The counts by decision per segment, then the asked-for candidate's message."""
    console.print(f"[bold]{found.cadence} {found.period_key}[/bold] as the scheduled run would decide "
                  f"it on {found.instant:%A %Y-%m-%d %H:%M} ({found.instant.tzinfo}); nothing was "
                  "sent or recorded", soft_wrap=True)
    sections = sorted(found.segments.values(), key=lambda section: section.name)
    table = Table("decision", *(escape(section.name) for section in sections), "all",
                  title="by decision and segment")
    for column in table.columns[1:]:
        column.justify = "right"
    rows = decision_rows(sections)
    for index, (name, counts) in enumerate(rows):  # a line above the totals
        table.add_row(name, *(f"{count:,}" for count in counts), end_section=index == len(rows) - 2)
    if not sections and found.candidate is None:
        table.caption = "nobody is in this cadence's pool" + (" and segments" if found.chosen_segments else "")
    console.print(table)
    answer = found.candidate
    if answer is None:
        return
    if answer.message is None:
        console.print(f"candidate {answer.candidate_id}: no {found.cadence} message for "
                      f"{found.period_key}: {escape(answer.why_not or '')}", soft_wrap=True)
        return
    _show_message(answer.candidate_id, answer.message)


def _show_message(candidate_id: int, sample: Sample) -> None:
    console.rule(f"candidate {candidate_id}: {escape(sample.template)} · {sample.locale} "
                 f"(segment {escape(sample.segment)})")
    for name, value in sample.headers:
        console.print(f"[bold]{escape(name)}:[/bold] {escape(value)}", soft_wrap=True)
    console.print()
    console.print(escape(sample.text), soft_wrap=True, highlight=False)
