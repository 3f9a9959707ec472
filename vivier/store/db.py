"""Engines, sessions and migrations for the one vivier database.

Only `upgrade` creates a SQLite database (its folder 0700, the file 0600: it holds personal
data); an engine on a SQLite file whose folder is missing is an error, never a new empty file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from vivier.settings import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the sender
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class DatabaseMissing(RuntimeError):
    """The configured SQLite database is not there (or not a file): say what to check."""


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL and in-memory SQLite."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1] if "///" in url else ""
    path = path.split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def check_exists(url: str) -> None:
    """Raise DatabaseMissing unless the SQLite file exists (PostgreSQL: not checked here)."""
    path = sqlite_path(url)
    if path is None:
        return
    if path.is_dir():
        raise DatabaseMissing(f"VIVIER_DATABASE_URL points at {path}, a folder: name a file, "
                              "e.g. sqlite:///var/vivier.db")
    if not path.parent.is_dir():
        raise DatabaseMissing(f"the folder of the SQLite database {path} does not exist: check "
                              "VIVIER_DATABASE_URL, or create it with `vivier db upgrade`")
    if not path.exists():
        raise DatabaseMissing(f"no database at {path}: check VIVIER_DATABASE_URL, or create it "
                              "with `vivier db upgrade`")


def create_sqlite(url: str) -> None:
    """Create a SQLite database's folder (0700) and empty file (0600) if they are missing."""
    path = sqlite_path(url)
    if path is None or path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # another process created it first: as good
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL and foreign keys (their folder must exist)."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None and not path.parent.is_dir():
            raise DatabaseMissing(f"the folder of the SQLite database {path} does not exist: check "
                                  "VIVIER_DATABASE_URL, or create it with `vivier db upgrade`")
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One engine (and pool) per URL per process."""
    return make_engine(url)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = sessionmaker(engine, expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision` (creating a SQLite file); running it again changes nothing."""
    if (path := sqlite_path(url)) is not None and path.is_dir():
        check_exists(url)  # names the problem: a folder is not a database
    create_sqlite(url)
    engine = engine_for(url)
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_tables(url: str) -> set[str]:
    return set(inspect(engine_for(url)).get_table_names())
