"""`vivier templates check`: render every message template before a run does, and list what is wrong."""

from __future__ import annotations

import typer
from rich.markup import escape

from app.commands.common import console, err_console, load
from vivier.messages.checks import check_templates

app = typer.Typer(help="Check the message templates (VIVIER_TEMPLATES_DIR).", no_args_is_help=True)


@app.command()
def check() -> None:
    """Render every template in every language, per cadence, with templates/_sample/context.yaml.

    Rendered full and emptied (every list empty, optional fields null). Lists, per template
    and language: a missing language folder or file, an empty text part, an undefined
    variable (or any render error), a link that is not https:// (mailto: is fine; the signed
    unsubscribe and preference links come from VIVIER_PUBLIC_BASE_URL and may be http on a
    laptop), a remote image, a subject empty or over 78 characters, an all-caps subject,
    '!!!', an HTML part that is mostly images. Exit 1 on any problem, 0 with a summary.
    Nothing is sent or written; no database is needed.

    Examples:

      vivier templates check

      VIVIER_TEMPLATES_DIR=~/draft-templates vivier templates check
    """
    settings = load()
    folder = settings.templates_dir
    if not folder.is_dir():
        err_console.print(f"[red]no templates folder {escape(str(folder))}: "
                          "set VIVIER_TEMPLATES_DIR to the folder that holds the templates[/red]")
        raise typer.Exit(2)
    result = check_templates(folder)
    if result.findings:
        for finding in result.findings:
            console.print(escape(str(finding)), soft_wrap=True)
        err_console.print(f"[red]{len(result.findings)} problem(s) in {escape(str(folder))}: "
                          "fix these files, then run vivier templates check again[/red]")
        raise typer.Exit(1)
    if not result.templates:
        err_console.print(f"[red]no message template in {escape(str(folder))}[/red]")
        raise typer.Exit(1)
    console.print(f"{len(result.templates)} templates × {len(result.languages)} languages "
                  f"({', '.join(result.languages)}), {result.renders} renders: no problem", soft_wrap=True)
