"""What every command shares: settings loading with a clean error, the console, the engine."""

from __future__ import annotations

import logging
from datetime import date

import typer
from rich.console import Console
from sqlalchemy import Engine

from vivier.settings import Settings, SettingsError, get_settings
from vivier.store import db

console = Console()
err_console = Console(stderr=True)


def load() -> Settings:
    """Settings, or exit 2 with the message that names the bad variable."""
    if not logging.getLogger("vivier").handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logging.getLogger("vivier").addHandler(handler)
    try:
        return get_settings()
    except SettingsError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def engine(settings: Settings) -> Engine:
    """The engine of the configured database, migrated to the latest schema."""
    db.upgrade(settings.database_url)
    return db.engine_for(settings.database_url)


def day_option(value: str, option: str) -> date:
    """A YYYY-MM-DD command-line option, or exit 2 saying which option is not a date."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        err_console.print(f"[red]{option} {value!r} is not a date: use YYYY-MM-DD[/red]")
        raise typer.Exit(2) from None
