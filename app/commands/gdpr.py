"""`vivier gdpr export|erase|retention` and `vivier why`: answer a person's GDPR requests."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table

from app.commands.common import check_output, console, engine, err_console, load, refuse, write_team_page
from vivier.gdpr import CandidateNotFound, find_candidate
from vivier.gdpr.anonymise import anonymise, erasure_keys_of, forget_samples, same_address
from vivier.gdpr.export import export_person, to_json
from vivier.gdpr.why import ConsentEvent, Explanation, explain
from vivier.pipeline.plan import application_pauses
from vivier.report.team_pages import write_timeline
from vivier.rules.cadences import CadenceName, period_start
from vivier.rules.segments import SegmentProblem, load_segments
from vivier.store.files import OutputProblem, check_target, write_private

app = typer.Typer(
    help="GDPR requests: export everything held about a person, erase them, run retention. "
    "CANDIDATE is vivier's internal id or the ATS id (say id:12 or ats:12 when both exist).",
    no_args_is_help=True,
)
CANDIDATE = typer.Argument(..., help="internal id (12, id:12) or ATS id (T-000012, ats:12)")


_LARGEST_ID = 2**63 - 1  # the databases' BIGINT


def _candidate_id(conn: Any, reference: str) -> int:
    number = reference.strip().removeprefix("id:")
    if number.isdigit() and not (number.isascii() and int(number) <= _LARGEST_ID):
        refuse(CandidateNotFound(f"no candidate with internal id {number!r}: ids are whole "
                                 "numbers in ASCII digits (check the id you were given)"))
    try:
        return find_candidate(conn, reference)
    except CandidateNotFound as problem:
        refuse(problem)


@app.command()
def export(
    candidate: str = CANDIDATE,
    output: Path | None = typer.Option(None, "--output", "-o", help="write to this new file, 0600 (default: stdout)"),
) -> None:
    """Everything held about one person, as JSON (access and portability, GDPR art. 15 and 20).

    Profile, consent log, preferences, suppression status, sends with template versions,
    interactions and decisions: every row about them, nothing about anyone else.

    Example: vivier gdpr export T-000012 -o request-2026-11-23.json
    """
    settings = load()
    if output is not None:
        try:  # before reading anything: a wrong path is the operator's to fix first
            check_target(output)
        except OutputProblem as problem:
            refuse(problem)
    with engine(settings).connect() as conn:
        held = export_person(conn, _candidate_id(conn, candidate))
    text = to_json(held) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:  # personal data: a new file, readable by the operator only, never through a link
        write_private(output, text.encode("utf-8"))
    except OutputProblem as problem:
        refuse(problem)
    err_console.print(f"candidate {held['candidate_id']}: written to {escape(str(output))}")


@app.command()
def erase(
    candidate: str = CANDIDATE,
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask for confirmation"),
) -> None:
    """Anonymise one person now (erasure, GDPR art. 17): same rules as the retention flow.

    Names, address, city and free text go; the address's hash stays in suppressions so a
    re-import never messages them; the aggregate history stays for the report. Irreversible.

    Example: vivier gdpr erase T-000012 --yes
    """
    settings = load()
    database = engine(settings)
    with database.connect() as conn:
        candidate_id = _candidate_id(conn, candidate)
    if not yes:
        typer.confirm(f"Anonymise candidate {candidate_id}? This cannot be undone", abort=True)
    with database.begin() as conn:
        others = same_address(conn, candidate_id)
        done = anonymise(conn, [candidate_id], source="request", keys=erasure_keys_of(settings))
    if not done:
        console.print(f"candidate {candidate_id} was already anonymised: nothing to do")
        return
    forget_samples(settings.samples_dir, done)
    console.print(f"candidate {candidate_id} anonymised; their address is suppressed (erasure)")
    if others:
        listed = ", ".join(str(other) for other in others)
        console.print(f"[yellow]candidate(s) {listed} share that address: they will not be messaged "
                      f"either; erase them too if they are the same person "
                      f"(vivier gdpr erase ID)[/yellow]")


def retention(
    dry_run: bool = typer.Option(False, "--dry-run", help="list who is due, anonymise nobody"),
    as_of: str | None = typer.Option(None, "--as-of", help="count inactivity up to this day (YYYY-MM-DD)"),
) -> None:
    """Anonymise everyone with no active contact for VIVIER_RETENTION_MONTHS (the monthly flow, now).

    Examples:

      vivier gdpr retention --dry-run      # who is due, by id

      vivier gdpr retention                # anonymise them (safe to rerun)
    """
    from app.commands.run import PREFECT_LOCAL_DEFAULTS

    settings = load()
    engine(settings)
    try:
        moment = datetime.fromisoformat(as_of).replace(tzinfo=settings.zone) if as_of else None
    except ValueError:
        err_console.print(f"[red]--as-of {as_of!r} is not a date: use YYYY-MM-DD[/red]")
        raise typer.Exit(2) from None
    for name, value in PREFECT_LOCAL_DEFAULTS.items():
        os.environ.setdefault(name, value)
    from flows.retention import retention as retention_flow

    result = retention_flow(as_of=moment, dry_run=dry_run)
    verb = "due (dry run, nobody anonymised)" if dry_run else "anonymised"
    console.print(f"no active contact since {result['cutoff'][:10]}: "
                  f"{len(result['candidate_ids']):,} candidate(s) {verb}")
    if result["candidate_ids"]:
        console.print("ids: " + ", ".join(str(i) for i in result["candidate_ids"][:200])
                      + (" …" if len(result["candidate_ids"]) > 200 else ""))


app.command("retention")(retention)


def why(
    candidate: str = CANDIDATE,
    cadence: CadenceName | None = typer.Option(None, "--cadence", help="only this cadence"),
    period: str | None = typer.Option(None, "--period", help="only this period: 2026-W48, 2026-11, 2026-Q4"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    html: Path | None = typer.Option(None, "--html", help="also write a page for the team here (0600)"),
) -> None:
    """Why a candidate got, or did not get, each message, and their timeline (consent, sends, clicks…).

    For each period: the message sent (template, version, Message-ID) and the consent event
    in force when it left, or the decision that kept it back and its reason; for in_process
    and recently_hired, the ATS application (job id and outcome) that held them. Above the
    table: the application holding them now, and a recruiter's pause (vivier pause), if any.
    Below: the timeline, oldest first: consent events, preference changes, applications,
    pauses, each run's decision and send, and what came back (delivered, opened, clicked,
    replied, bounced, complained, unsubscribed). --html writes the same as a page (personal
    data: 0600, for the team).

    Examples:

      vivier why T-000012

      vivier why 12 --period 2026-W48            # the cadence follows from the key

      vivier why T-000012 --cadence monthly --json

      vivier why T-000012 --html var/why-T-000012.html
    """
    settings = load()
    if html is not None:
        check_output(html)
    cadence_name = cadence.value if cadence else _cadence_of(period)
    if period and cadence_name:
        try:
            period_start(cadence_name, period)
        except ValueError as problem:
            err_console.print(f"[red]{escape(str(problem))}[/red]")
            raise typer.Exit(2) from None
    try:
        segments = load_segments(settings.segments_file)
    except SegmentProblem as problem:
        err_console.print(f"[red]{escape(str(problem))}[/red]")
        raise typer.Exit(2) from None
    with engine(settings).connect() as conn:
        story = explain(conn, _candidate_id(conn, candidate), segments, settings.retention_months,
                        cadence_name, period, pauses=application_pauses(settings),
                        team_zone=settings.team_timezone)
    if as_json:
        sys.stdout.write(to_json(story.to_dict()) + "\n")
    else:
        show_explanation(story)
    if html is not None:
        write_team_page(lambda: write_timeline(story, html, settings.templates_dir))


def _cadence_of(period: str | None) -> str | None:
    """The cadence a period key belongs to: `-W` weekly, `-Q` quarterly, else monthly."""
    if period is None:
        return None
    return "weekly" if "-W" in period else "quarterly" if "-Q" in period else "monthly"


def _consent(event: ConsentEvent | None, full: bool = False) -> str:
    if event is None:
        return "none recorded"
    when = f"{event.recorded_at:%Y-%m-%d %H:%M} UTC" if full else f"{event.recorded_at:%Y-%m-%d}"
    return escape(f"{event.state} · {event.source} · {when} (#{event.consent_id})")


def _day(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d}" if moment else "—"


def show_explanation(story: Explanation) -> None:
    """The candidate now, then one table row per period (newest first); --json has every field."""
    state = f"erased on {_day(story.erased_at)}" if story.erased_at else f"status {story.status}"
    console.print(f"[bold]candidate {story.candidate_id}[/bold] (ATS {escape(story.external_id)}) · {state}")
    if not story.erased_at:
        why_cadence = (f"own choice: {story.frequency}" if story.frequency else
                       "former candidate: an application ended" if story.former else
                       f"{story.status} status default")
        console.print(f"cadence now: [bold]{story.cadence}[/bold] ({why_cadence}) · "
                      f"segment: {escape(story.segment or '—')}")
        console.print(f"consent now: {_consent(story.consent, full=True)} · suppressed: "
                      f"{'yes' if story.suppressed else 'no'}")
        console.print(f"last active contact: {_day(story.last_active_contact)} · "
                      f"kept until: {_day(story.kept_until)}")
        if story.zone:
            console.print(f"time zone: {escape(story.zone['described'])}")
        if story.holding:
            hold = story.holding
            until = f"until {_day(hold['until'])}" if hold["until"] else "while it is open"
            console.print(f"held now: [yellow]{hold['reason']}[/yellow] by the application to job "
                          f"{escape(hold['job'])} ({hold['outcome']}, {_day(hold['since'])}), {until}")
        if story.paused:
            pause = story.paused
            console.print(f"paused now: [yellow]paused[/yellow] through {escape(str(pause['until']))} "
                          f"by {escape(str(pause['by']))} on {_day(pause['since'])}: "
                          f"{escape(str(pause['reason']))} (vivier resume {story.candidate_id} ends it)")
    table = Table("cadence", "period", "outcome", "when", "template or reason", "consent in force",
                  title="per period (newest first)")
    for period in story.periods:
        if period.outcome == "pending" and period.not_before and period.zone:
            local = period.not_before.astimezone(ZoneInfo(period.zone))
            what = f"waits for its send window: {local:%Y-%m-%d %H:%M} {period.zone}"
        elif period.template:
            what = f"{period.template} @{(period.template_version or '?')[:8]}"
        else:
            what = period.detail or ""
        outcome = period.outcome + (" (dry run)" if period.dry_run else "")
        colour = "green" if period.outcome == "sent" else "yellow"
        table.add_row(period.cadence, period.period_key, f"[{colour}]{escape(outcome)}[/{colour}]",
                      _day(period.at), escape(what), _consent(period.consent) if period.at else "—")
    if not story.periods:
        table.caption = "no run has considered this candidate yet"
    console.print(table)
    console.print(timeline_table(story))


def timeline_table(story: Explanation) -> Table:
    """Every dated fact, oldest first (times in UTC)."""
    table = Table("when (UTC)", "what", "cadence · period", "detail", title="timeline (oldest first)")
    for moment in story.timeline:
        period = " · ".join(part for part in (moment.cadence, moment.period_key) if part)
        table.add_row(f"{moment.at:%Y-%m-%d %H:%M}", escape(moment.kind), escape(period),
                      escape(moment.summary))
    if not story.timeline:
        table.caption = "nothing recorded about this candidate yet"
    return table
