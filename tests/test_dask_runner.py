"""The Dask task runner (a LocalCluster of 2 worker processes) decides and sends what the threads do.

The same seeded pool, in two PostgreSQL databases: one weekly run with the default thread
runner, one with `VIVIER_TASK_RUNNER=dask`. Batch tasks then run in the Dask workers, which
read their settings (`VIVIER_DATABASE_URL` first) from the environment they inherit.
"""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from demo.seed import seed_demo
from flows.nurture import nurture
from flows.runners import SettingsTaskRunner, batch_task_runner
from testing.postgres import PostgresServer
from vivier.pipeline.resources import current
from vivier.rules.cadences import today_in
from vivier.settings import Settings, get_settings
from vivier.store import db
from vivier.store.schema import Decision, Interaction, Send

from .conftest import TEMPLATE_DB

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.postgres, pytest.mark.slow]

POOL = 400
BATCH = 50  # 8 batches: both workers get some


@pytest.fixture
def twin_pools(pg_server: PostgresServer) -> Iterator[tuple[str, str]]:
    """Two databases holding the very same seeded pool."""
    admin = sa.create_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    names = ["dask_threads", "dask_cluster"]
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {names[0]} TEMPLATE {TEMPLATE_DB}"))
    first = pg_server.url(names[0])
    seed_demo(db.engine_for(first), POOL, 7, today_in(Settings().zone))
    db.engine_for(first).dispose()  # a template must have no open session
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {names[1]} TEMPLATE {names[0]}"))
    yield first, pg_server.url(names[1])
    with admin.connect() as conn:
        for name in names:
            db.engine_for(pg_server.url(name)).dispose()
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def run_weekly(url: str, outbox: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    key = "dask-test-secret-key-of-32-bytes-or-more"
    for name, value in {"VIVIER_DATABASE_URL": url, "VIVIER_TRANSPORT": "maildir",
                        "VIVIER_MAILDIR_PATH": str(outbox), "VIVIER_SECRET_KEY": key,  # noqa: E501
                        "VIVIER_BATCH_SIZE": str(BATCH), "VIVIER_SEND_CHUNK_SIZE": "20",
                        "VIVIER_SEND_HOURS_WEEKLY": "always", **env}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return nurture(cadence="weekly", as_of=today_in(get_settings().zone))


def outcome(url: str, outbox: Path) -> dict[str, object]:
    """What a run decided and sent, without run ids, times or flow run ids."""
    with db.engine_for(url).connect() as conn:
        ledger = sorted(conn.execute(sa.select(
            Send.candidate_id, Send.status, Send.segment, Send.template, Send.message_id)).all())
        decided = sorted(conn.execute(sa.select(
            Decision.candidate_id, Decision.reason, Decision.segment)).all())
        sent = Counter(conn.execute(sa.select(Interaction.candidate_id)
                                    .where(Interaction.kind == "message_sent")).scalars())
    messages = [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                for path in sorted((outbox / "new").glob("*"))]
    return {"ledger": ledger, "decisions": decided, "sent_interactions": sent,
            "delivered": Counter(str(message["Message-ID"]) for message in messages)}


def test_the_dask_runner_decides_and_sends_exactly_what_the_thread_runner_does(
    twin_pools: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads_url, dask_url = twin_pools
    by_threads = run_weekly(threads_url, tmp_path / "threads", monkeypatch)
    served_by_threads = current().runs_served
    by_dask = run_weekly(dask_url, tmp_path / "dask", monkeypatch,
                         VIVIER_TASK_RUNNER="dask", VIVIER_DASK_WORKERS="2")

    expected, found = outcome(threads_url, tmp_path / "threads"), outcome(dask_url, tmp_path / "dask")
    assert by_threads["stages"]["sent"] > 50 and by_threads["reasons"]  # a pool worth comparing
    assert found == expected
    assert by_dask["stages"] == by_threads["stages"]
    assert max(found["delivered"].values()) == 1 and max(found["sent_interactions"].values()) == 1
    assert sum(found["delivered"].values()) == by_threads["stages"]["sent"]
    # The batches ran in the workers: this process never built the Dask run's tools.
    assert str(current().settings.database_url) == dask_url
    assert by_dask["run_id"] not in current().runs_served
    assert by_threads["run_id"] in served_by_threads


def test_the_task_runner_follows_the_settings_when_a_run_starts() -> None:
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    assert isinstance(batch_task_runner(Settings()), ThreadPoolTaskRunner)
    local = batch_task_runner(Settings(task_runner="dask", dask_workers=3))
    assert isinstance(local, DaskTaskRunner) and local.cluster_kwargs["n_workers"] == 3
    remote = batch_task_runner(Settings(task_runner="dask", dask_address="tcp://127.0.0.1:8786"))
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://127.0.0.1:8786"
    assert isinstance(SettingsTaskRunner(), ThreadPoolTaskRunner)  # what the decorator holds
