"""The GDPR verbs mounted as `vivier.cli` mounts them, for CliRunner tests."""

from __future__ import annotations

import typer

from vivier.commands import gdpr

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
app.add_typer(gdpr.app, name="gdpr")
app.command("why")(gdpr.why)
