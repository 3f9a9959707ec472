"""`vivier`: every action a person takes by hand, with --help that teaches by example."""

from __future__ import annotations

import typer

from app.commands import automations, gdpr, imports, ops, people, preview, run, seed, segments, templates
from app.commands import db as db_commands
from app.commands import deliver as deliver_commands
from app.commands import report as report_commands
from app.commands import web as web_commands

app = typer.Typer(
    name="vivier",
    help="Keep a recruiting team's talent pool engaged: consent-aware nurturing cadences.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db_commands.app, name="db")
app.add_typer(imports.app, name="import")
app.command("seed")(seed.seed)
app.command("run")(run.run)
app.command("demo")(run.demo)
app.command("deliver")(deliver_commands.deliver)
app.command("web")(web_commands.web)
app.command("backfill")(ops.backfill)
app.command("status")(ops.status)
app.command("report")(report_commands.report)
app.command("in-doubt")(ops.in_doubt)
app.add_typer(gdpr.app, name="gdpr")
app.add_typer(automations.app, name="ops")
app.command("why")(gdpr.why)
app.command("pause")(people.pause)
app.command("resume")(people.resume)
app.command("preview")(preview.preview)
app.add_typer(segments.app, name="segments")
app.add_typer(templates.app, name="templates")


if __name__ == "__main__":
    app()
