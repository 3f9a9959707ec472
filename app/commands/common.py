"""What every command shares: settings loading with a clean error, the console, the engine."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine

from tasks.secrets import with_prefect_secrets
from vivier.settings import Settings, SettingsError, get_settings
from vivier.store import db
from vivier.store.files import OutputProblem, check_target

console = Console()
err_console = Console(stderr=True)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record comes (a test runner swaps it per command,
    and a server thread may log after that command's stream was closed)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def load() -> Settings:
    """Settings, or exit 2 with the message that names the bad variable."""
    logger = logging.getLogger("vivier")
    if not logger.handlers:
        handler = _StderrHandler()
        handler.set_name("vivier-cli")
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    try:
        return with_prefect_secrets(get_settings())  # secrets named by VIVIER_*_BLOCK, if any
    except SettingsError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def engine(settings: Settings, *, create: bool = False) -> Engine:
    """The engine of the configured database, migrated to the latest schema.

    A missing SQLite file is an error (exit 2) unless `create`: a typo in VIVIER_DATABASE_URL
    must not answer from a new, empty database.
    """
    try:
        if not create:
            db.check_exists(settings.database_url)
        db.upgrade(settings.database_url)
    except db.DatabaseMissing as problem:
        err_console.print(f"[red]{escape(str(problem))}[/red]")
        raise typer.Exit(2) from None
    return db.engine_for(settings.database_url)


def day_option(value: str, option: str) -> date:
    """A YYYY-MM-DD command-line option, or exit 2 saying which option is not a date."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        err_console.print(f"[red]{option} {value!r} is not a date: use YYYY-MM-DD[/red]")
        raise typer.Exit(2) from None


def check_output(path: Path) -> None:
    """Before any work: a page or file path vivier must not write to is the operator's to fix (exit 2)."""
    try:
        check_target(path, make_folder=True)
    except OutputProblem as problem:
        refuse(problem)


def write_team_page(write: Callable[[], Path]) -> None:
    """Write a page with personal data (`write` returns where), or exit 2 saying why not."""
    try:
        written = write()
    except OutputProblem as problem:
        refuse(problem)
    err_console.print(f"page: {escape(str(written))} (0600: personal data, for the team only; "
                      "delete it when done)", soft_wrap=True)


def refuse(problem: Exception) -> NoReturn:
    """Exit 2 with the problem's own words (they say what to do): no traceback for bad input."""
    err_console.print(f"[red]{escape(str(problem))}[/red]")
    raise typer.Exit(2)
