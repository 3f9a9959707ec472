"""Shared fixtures. Database tests run on SQLite; those where the dialect matters, on PostgreSQL too.

The rule, visible in each test module:

- `db_url` (and `engine`, `settings` on top of it) is a fresh SQLite database by default.
- `@pytest.mark.both_dialects` (on a test, or as a module's `pytestmark`) runs the test twice,
  `[sqlite]` and `[postgres]`, the latter on a real throwaway PostgreSQL and marked `postgres`.
  Use it where SQL means something different per dialect: the SQL helpers (vivier/store/sql.py),
  ledger claims and upserts, concurrent writers, migrations and the schema, imports' upserts,
  event ingestion, GDPR anonymisation, the report's aggregates.
- Flow-level tests (the Prefect harness) check orchestration: one database, SQLite.
- A test that needs PostgreSQL alone says so: `@pytest.mark.parametrize("db_url",
  [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)`.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# The CLI's Rich console fixes its width at import when COLUMNS is set (pytest-xdist workers
# set COLUMNS=80): without it, each CliRunner call's own COLUMNS decides how wide tables are.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

from testing.postgres import PostgresServer, start_postgres  # noqa: E402
from tests.builders import ALWAYS_OPEN  # noqa: E402
from vivier.pipeline.resources import Resources, using  # noqa: E402
from vivier.settings import Settings, get_settings, load_settings  # noqa: E402
from vivier.store import db  # noqa: E402

TEMPLATE_DB = "vivier_template"
_counter = itertools.count()
BOTH_DIALECTS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give `both_dialects` tests their [sqlite] and [postgres] variants."""
    if "db_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_dialects"):
        metafunc.parametrize("db_url", BOTH_DIALECTS, indirect=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL for the whole session, stopped even when tests fail."""
    server = start_postgres()
    try:
        admin = sa.create_engine(server.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {TEMPLATE_DB}"))
        admin.dispose()
        db.upgrade(server.url(TEMPLATE_DB))
        db.engine_for(server.url(TEMPLATE_DB)).dispose()  # a template must have no sessions
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "vivier.db"
    db.upgrade(f"sqlite:///{path}")
    db.engine_for(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty database for one test: SQLite unless parametrised (see above)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        path = tmp_path / "vivier.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
        yield url
        db.engine_for(url).dispose()
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = f"t{os.getpid()}_{next(_counter)}"
    admin = sa.create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}"))
    url = server.url(name)
    yield url
    db.engine_for(url).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def engine(db_url: str) -> sa.Engine:
    return db.engine_for(db_url)


@pytest.fixture
def catalog(db_url: str) -> None:
    """Content for every week up to today (tests/builders.py weekly_content): a run messages
    whoever is eligible. Without it, nothing new means nothing sent (`nothing_new`)."""
    from tests import builders

    builders.weekly_content(db.engine_for(db_url))


@pytest.fixture
def settings(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings for a test, also exported as VIVIER_* so flows and the CLI see them."""
    values = {
        "VIVIER_DATABASE_URL": db_url,
        "VIVIER_TRANSPORT": "maildir",
        "VIVIER_MAILDIR_PATH": str(tmp_path / "outbox"),
        "VIVIER_SAMPLES_DIR": str(tmp_path / "samples"),
        "VIVIER_SECRET_KEY": "test-secret-key-of-at-least-32-bytes",
        # One batch per run (each batch is a Great Expectations validation, ~0.2-0.4 s):
        # tests about batching set a small VIVIER_BATCH_SIZE of their own.
        "VIVIER_BATCH_SIZE": "1000",
        **{f"VIVIER_{name.upper()}": value for name, value in ALWAYS_OPEN.items()},
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A real, temporary Prefect server (SQLite-backed) for flow tests."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def resources(db_url: str, tmp_path: Path) -> Iterator[Resources]:
    """The test's own resources, built from its own settings (no environment, no cache to
    clear), installed for the flows and tasks it runs in this process; transport `none`."""
    own = load_settings(database_url=db_url, transport="none", maildir_path=tmp_path / "outbox",
                        samples_dir=tmp_path / "samples", batch_size=1000,
                        secret_key="test-secret-key-of-at-least-32-bytes", **ALWAYS_OPEN)
    with using(Resources.build(own)) as installed:
        yield installed
