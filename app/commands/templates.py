"""`vivier templates check`: render every message template before a run does, and list what is wrong."""

from __future__ import annotations

import typer
from rich.markup import escape
from sqlalchemy.exc import OperationalError

from app.commands.common import console, err_console, load
from vivier.messages.checks import check_templates
from vivier.messages.template_env import TemplateProblem
from vivier.pipeline.resources import Resources
from vivier.pipeline.template_sample import RealCheck, check_real_candidates
from vivier.rules.segments import SegmentProblem
from vivier.settings import Settings
from vivier.store import db
from vivier.store.schema import utcnow
from vivier.transports.none import NoneTransport

app = typer.Typer(help="Check the message templates (VIVIER_TEMPLATES_DIR).", no_args_is_help=True)


@app.command()
def check(
    sample: int = typer.Option(30, "--sample", min=0,
                               help="real candidates drawn per cadence when the database is there (0: none)"),
) -> None:
    """Render every template in every language, per cadence, with templates/_sample/context.yaml,
    then with a sample of real candidates when the database (VIVIER_DATABASE_URL) is there.

    Rendered full and emptied (every list empty, optional fields null). Lists, per template
    and language: a missing language folder or file, an empty text part, an undefined
    variable (or any render error), a link that is not https:// (mailto: is fine; the signed
    unsubscribe and preference links come from VIVIER_PUBLIC_BASE_URL and may be http on a
    laptop), a remote image, a subject empty or over 78 characters, an all-caps subject,
    '!!!', an HTML part that is mostly images. Exit 1 on any problem, 0 with a summary.

    Real candidates: --sample N of each cadence's pool, at random, each rendered with their
    segment's template in every language, from this period's openings and content. Problems
    name the candidate ids, never their data; `vivier preview CADENCE --candidate ID` shows
    one of them. Nothing is sent or written; without a database, the sample is skipped.

    Examples:

      vivier templates check

      VIVIER_TEMPLATES_DIR=~/draft-templates vivier templates check --sample 0
    """
    settings = load()
    folder = settings.templates_dir
    if not folder.is_dir():
        err_console.print(f"[red]no templates folder {escape(str(folder))}: "
                          "set VIVIER_TEMPLATES_DIR to the folder that holds the templates[/red]")
        raise typer.Exit(2)
    result = check_templates(folder)
    real = _real_candidates(settings, sample) if sample else None
    findings = result.findings + (real.findings if real else [])
    if findings:
        for finding in findings:
            console.print(escape(str(finding)), soft_wrap=True)
        err_console.print(f"[red]{len(findings)} problem(s) in {escape(str(folder))}: "
                          "fix these files, then run vivier templates check again[/red]")
        raise typer.Exit(1)
    if not result.templates:
        err_console.print(f"[red]no message template in {escape(str(folder))}[/red]")
        raise typer.Exit(1)
    console.print(f"{len(result.templates)} templates × {len(result.languages)} languages "
                  f"({', '.join(result.languages)}), {result.renders} renders: no problem", soft_wrap=True)
    if real is not None:
        skipped = (f" ({real.quarantined} more left out: their data fails the checks, a run "
                   "quarantines them)") if real.quarantined else ""
        console.print(f"{real.candidates} real candidates, {real.renders} renders: no problem{skipped}",
                      soft_wrap=True)


def _real_candidates(settings: Settings, size: int) -> RealCheck | None:
    """The sample's findings, or None (said on stderr) when there is no database to read."""
    try:
        db.check_exists(settings.database_url)
        resources = Resources.build(settings, transport=NoneTransport())
        return check_real_candidates(resources, size, utcnow())
    except db.DatabaseMissing:
        err_console.print("no database: real candidates not checked (VIVIER_DATABASE_URL)")
    except (SegmentProblem, TemplateProblem) as problem:  # the fixture check lists what to fix
        err_console.print(f"real candidates not checked: {escape(str(problem))}")
    except OperationalError as problem:
        err_console.print(f"real candidates not checked: the database does not answer "
                          f"({type(problem.orig).__name__}); check VIVIER_DATABASE_URL")
    return None
