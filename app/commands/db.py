"""`vivier db …`: the schema."""

from __future__ import annotations

import typer
from rich.markup import escape

from app.commands.common import console, err_console, load
from vivier.store import db

app = typer.Typer(help="Create or migrate the database schema.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Create or migrate the schema to the latest version (safe to run again).

    Example: VIVIER_DATABASE_URL=postgresql+psycopg://vivier@db/vivier vivier db upgrade
    """
    settings = load()
    try:
        db.upgrade(settings.database_url)
    except db.DatabaseMissing as problem:
        err_console.print(f"[red]{escape(str(problem))}[/red]")
        raise typer.Exit(2) from None
    console.print(f"schema up to date ({len(db.current_tables(settings.database_url))} tables)")
