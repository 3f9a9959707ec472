"""`vivier import …`: ATS exports. Exit 0: all rows in; 1: rows rejected; 2: file unreadable.

Nothing an import prints holds a row's values: rejections give the line, the ATS id and the
reason; an error nobody foresaw gives its type only (its text or traceback could hold names).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from app.commands.common import console, engine, err_console, load
from vivier.gdpr.anonymise import erasure_keys_of
from vivier.imports.applications import ApplicationImportReport, import_applications
from vivier.imports.candidates import import_candidates
from vivier.imports.consents import import_consents
from vivier.imports.content import import_content
from vivier.imports.event_file import EventImportReport, import_events
from vivier.imports.events import DEFAULT_SOURCE, check_source
from vivier.imports.jobs import import_jobs
from vivier.imports.report import ImportFileError, ImportReport, shown_id

SHOWN_REJECTIONS = 200
FEED_NOUNS = ("openings", "items")  # feeds: a skipped row is one equal to what is stored

app = typer.Typer(
    help="Import candidates, consents and applications from the ATS, email provider events, "
    "and the team's openings and content feeds "
    "(CSV, UTF-8; events, applications, jobs and content also JSON Lines). "
    "Exit code 0: every row imported; 1: some rows rejected (listed); 2: file not readable.",
    no_args_is_help=True,
)


@app.command()
def candidates(
    file: Path = typer.Argument(..., help="CSV export of the ATS, UTF-8, comma-separated."),
) -> None:
    """Add or update candidates by ATS id (external_id); list the rows left out and why.

    Columns: external_id,email,first_name,last_name,locale,status (required) and
    city,search_location,expertise,tags,last_applied_at,owner,owner_name (optional).

    owner is the owner recruiter's email address, owner_name how they sign: they sign the
    messages of a privileged candidate (an empty cell: the team signs).

    Tags are separated by ';'. Dates are ISO 8601: 2026-03-14 or 2026-03-14T09:30:00+01:00.

    Values starting with = + @ (or - unless a number like -5) are refused as spreadsheet formulas.

    Rows of erased people (by address or ATS id, in any case) are refused; nothing is stored.

    Example: vivier import candidates exports/ats-candidates.csv
    """
    settings = load()
    database = engine(settings)
    _finish(lambda: import_candidates(database, file, zone=settings.zone,
                                      keys=erasure_keys_of(settings)), "candidates")


@app.command()
def consents(
    file: Path = typer.Argument(..., help="CSV export of consent events, UTF-8."),
) -> None:
    """Append consent events (granted, withdrawn, denied); re-importing adds nothing twice.

    Columns: external_id,state,recorded_at (required) and source,evidence (optional).

    Evidence is free text or a JSON object. Import the candidates first.

    Example: vivier import consents exports/ats-consents.csv
    """
    settings = load()
    database = engine(settings)
    _finish(lambda: import_consents(database, file, zone=settings.zone,
                                    keys=erasure_keys_of(settings)), "consent events")


@app.command()
def events(
    file: Path = typer.Argument(..., help="Provider events: CSV, or JSON Lines if it ends in .jsonl."),
    source: str = typer.Option(DEFAULT_SOURCE, help="The provider's name: the namespace of its event ids (as the hook's ?source=)."),
) -> None:
    """Record email provider events once each: delivered, opened, clicked, bounced, complained, replied.

    Columns (or JSON keys): type,message_id,occurred_at (required) and id,bounce_type,url,recipient (optional).

    Events match their message by Message-ID (with or without <>); one matching no send is kept as an orphan. bounce_type (hard or soft) is required for bounced. occurred_at must carry its offset: 2026-11-23T09:30:00+01:00.

    A hard bounce suppresses the address; a complaint suppresses it and withdraws consent. Importing the same events again records nothing twice.

    Example: vivier import events exports/esp-events.jsonl
    """
    try:
        check_source(source)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--source") from None
    database = engine(load())
    _finish(lambda: import_events(database, file, source), "events", _event_notes)


@app.command()
def applications(
    file: Path = typer.Argument(..., help="Applications export of the ATS: CSV, or JSON Lines if it ends in .jsonl."),
) -> None:
    """Add or update applications per candidate and job; record applied and hired interactions once.

    Columns (or JSON keys): external_id,job,applied_at (required) and outcome,outcome_at (optional).

    external_id is the candidate's ATS id, job the ATS job id. Outcomes: applied (default), screening, interview, offer, hired, rejected, withdrawn.

    A known application keeps its earliest applied_at and takes the new outcome. Import the candidates first.

    Example: vivier import applications exports/ats-applications.csv
    """
    settings = load()
    database = engine(settings)
    _finish(lambda: import_applications(database, file, zone=settings.zone,
                                        keys=erasure_keys_of(settings)),
            "applications", _application_notes)


@app.command()
def jobs(
    file: Path = typer.Argument(..., help="Openings feed: CSV, or JSON Lines if it ends in .jsonl."),
) -> None:
    """Add or update openings by ATS job id (external_id); unchanged rows are skipped.

    Columns (or JSON keys): external_id,title,url,languages,published_at (required) and
    company,city,country,remote,expertise,status,closes_at,closed_at (optional).

    url: https only. languages: fr, en or both (fr;en). remote: onsite, hybrid or remote. status: open (default) or closed.

    closes_at may lie ahead (the opening closes then); closed_at (not in the future) closes it. Closed openings are never shown in messages.

    A row needs a city or a country, unless remote is remote. The sync-feeds flow reads the same files from VIVIER_JOBS_FEED.

    Example: vivier import jobs feeds/jobs.csv
    """
    settings = load()
    database = engine(settings)
    _finish(lambda: import_jobs(database, file, zone=settings.zone), "openings")


@app.command()
def content(
    file: Path = typer.Argument(..., help="Content feed: CSV, or JSON Lines if it ends in .jsonl."),
) -> None:
    """Add or update articles, news, events, tips and success stories by their feed id (external_id).

    Columns (or JSON keys): external_id,kind,language,title,url,published_at (required) and
    summary,tags,expires_at,starts_at,timezone,place (optional).

    kind: article, news, event, tip or story. language: fr or en. tags: ';'-separated expertises or segments. url: https only.

    An event needs starts_at with its zone: 2026-12-03T18:30:00-05:00, or 2026-12-03T18:30 with timezone America/Toronto. Expired items are never shown.

    The sync-feeds flow reads the same files from VIVIER_CONTENT_FEED.

    Example: vivier import content feeds/content.jsonl
    """
    settings = load()
    database = engine(settings)
    _finish(lambda: import_content(database, file, zone=settings.zone), "items")


def _event_notes(report: ImportReport) -> list[str]:
    result = report.result if isinstance(report, EventImportReport) else None
    if result is None:
        return []
    notes = []
    if result.orphans:
        notes.append(f"{result.orphans:,} orphan event(s): their Message-ID matches no send (kept)")
    if result.suppressed:
        notes.append(f"{result.suppressed:,} address(es) suppressed (hard bounce or complaint)")
    if result.withdrawn:
        notes.append(f"{result.withdrawn:,} consent(s) withdrawn after a complaint")
    return notes


def _application_notes(report: ImportReport) -> list[str]:
    hires = report.hires if isinstance(report, ApplicationImportReport) else 0
    return [f"{hires:,} hire(s) recorded"] if hires else []


def _finish(
    run: Callable[[], ImportReport], noun: str,
    notes: Callable[[ImportReport], list[str]] = lambda report: [],
) -> None:
    """Run the import, print its report and exit with the code the report deserves."""
    try:
        report = run()
    except ImportFileError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    except Exception as exc:  # noqa: BLE001 - its text or traceback could hold row values
        err_console.print(f"[red]the import stopped on an unexpected error ({type(exc).__name__})"
                          "; nothing was imported. Tell the vivier maintainers.[/red]")
        raise typer.Exit(2) from None
    line = f"{report.file}: {report.read:,} rows read, {report.imported:,} {noun} imported"
    if report.updated:
        line += f", {report.updated:,} updated"
    if report.skipped:
        line += f", {report.skipped:,} {'unchanged' if noun in FEED_NOUNS else 'already recorded'} (skipped)"
    console.print(escape(line) + f", {len(report.rejected):,} rejected")
    if report.suppressed_matches:
        console.print(f"{report.suppressed_matches:,} imported row(s) match a suppression "
                      "and will not be messaged")
    for note in notes(report):
        console.print(escape(note))
    if report.ignored_columns:
        console.print(f"ignored unknown column(s): {escape(', '.join(report.ignored_columns))}")
    if report.rejected:
        console.print(rejections_table(report))
        raise typer.Exit(1)


def rejections_table(report: ImportReport) -> Table:
    """Rejected rows by line: ATS id and reason only (no email, no names)."""
    table = Table(title=f"Rejected rows of {escape(report.file)}")
    table.add_column("line", justify="right")
    table.add_column("external_id")
    table.add_column("reason")
    for rejection in report.rejected[:SHOWN_REJECTIONS]:
        ats_id = shown_id(rejection.external_id)
        table.add_row(str(rejection.line), escape(ats_id) if ats_id else "—",
                      escape(rejection.reason))
    if len(report.rejected) > SHOWN_REJECTIONS:
        table.caption = f"first {SHOWN_REJECTIONS} of {len(report.rejected):,} rejected rows"
    return table
