"""The services a benchmark needs: PostgreSQL with seeded pools, an SMTP sink, a Prefect server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from demo.seed import seed_demo
from testing.postgres import PostgresServer, free_port
from vivier.settings import get_settings
from vivier.store import db

SMTP_SINK = Path("/usr/sbin/smtp-sink")  # Postfix's sink: C, ~2,200 msg/s on one connection
_COUNTER = re.compile(r"mesg=(\d+)")


class Databases:
    """Seeded template databases on one PostgreSQL, and fresh copies of them for each run."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self._admin = sa.create_engine(server.url(), isolation_level="AUTOCOMMIT")
        self._copies = 0

    def seed(self, name: str, candidates: int, as_of: date) -> float:
        """Create, migrate and seed database `name` with `candidates`; returns seconds taken."""
        self._sql(f"CREATE DATABASE {name}")
        url = self.server.url(name)
        db.upgrade(url)
        started = time.perf_counter()
        seed_demo(db.engine_for(url), candidates, 42, as_of, get_settings().zone)
        seconds = time.perf_counter() - started
        with db.engine_for(url).connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
        db.engine_for(url).dispose()  # a template must have no open sessions
        return seconds

    def fresh_copy(self, template: str) -> str:
        """A new database with the template's exact content: every run starts from the same state."""
        self._copies += 1
        name = f"{template}_run{self._copies}"
        self._sql(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
        return self.server.url(name)

    def drop(self, url: str) -> None:
        db.engine_for(url).dispose()
        self._sql(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[-1]} WITH (FORCE)")

    def _sql(self, statement: str) -> None:
        with self._admin.connect() as conn:
            conn.execute(sa.text(statement))

    def close(self) -> None:
        self._admin.dispose()


@dataclass
class Sink:
    """A running SMTP sink on 127.0.0.1; `delivered()` counts the messages it accepted."""

    kind: str
    port: int
    process: subprocess.Popen[bytes] | None = None
    counter_file: Path | None = None
    inner: Any = None  # the in-process aiosmtpd fallback

    def delivered(self) -> int:
        if self.inner is not None:
            return int(self.inner.count)
        assert self.counter_file is not None
        time.sleep(0.2)  # the sink prints its counter after the reply
        found = _COUNTER.findall(self.counter_file.read_text(errors="replace")[-4000:])
        return int(found[-1]) if found else 0

    def stop(self) -> None:
        if self.inner is not None:
            self.inner.stop()
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


def ensure_smtp_sink() -> bool:
    """Install Postfix's smtp-sink with apt when missing (root only); False when unavailable."""
    if SMTP_SINK.exists():
        return True
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    print("installing Postfix's smtp-sink (apt-get install postfix, not started) ...", flush=True)
    # "No configuration": Postfix itself is never configured or started, only its tools land.
    subprocess.run(["debconf-set-selections"], input=b"postfix postfix/main_mailer_type select "
                   b"No configuration\n", check=False)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "postfix"],
                   env=env, stdout=subprocess.DEVNULL, check=False)
    return SMTP_SINK.exists()


def start_sink(workdir: Path, prefer: str = "smtp-sink") -> Sink:
    """Postfix's smtp-sink in its own process, else vivier's aiosmtpd SmtpSink (in a thread)."""
    if prefer == "smtp-sink" and ensure_smtp_sink():
        port = free_port()
        counter = workdir / "smtp-sink.out"
        user = ["-u", "nobody"] if os.geteuid() == 0 else []  # it refuses to keep root privileges
        with counter.open("wb") as out:
            process = subprocess.Popen([str(SMTP_SINK), *user, "-c", f"127.0.0.1:{port}", "512"],
                                       stdout=out, stderr=subprocess.STDOUT)
        _wait_for_port(port, process)
        return Sink("postfix smtp-sink (separate process)", port, process, counter)
    from testing.smtp import SmtpSink

    print("smtp-sink unavailable: falling back to aiosmtpd (slower, keeps messages in memory)",
          file=sys.stderr)
    inner = SmtpSink().start()
    return Sink("aiosmtpd SmtpSink (thread of the bench driver)", inner.port, inner=inner)


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    import socket

    for _ in range(100):
        if process.poll() is not None:
            raise RuntimeError(f"smtp-sink exited at start (code {process.returncode})")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"smtp-sink did not listen on 127.0.0.1:{port} within 5 s")


@dataclass
class DaskCluster:
    """A warm Dask cluster on 127.0.0.1: a scheduler and worker processes preloaded with
    `flows.dask_preload` (Prefect, vivier, Great Expectations imported before the first run)."""

    address: str
    processes: list[subprocess.Popen[bytes]]

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def start_dask(env: dict[str, str], workers: int, workdir: Path) -> DaskCluster:
    """Start a scheduler and `workers` one-thread worker processes with `env` (the database of the
    run they serve), and wait until every worker has preloaded and joined."""
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    root = Path(__file__).parent.parent
    processes = []
    with (workdir / "dask.log").open("ab") as log:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"], env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT))
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "dask", "worker", address, "--nworkers", str(workers),
             "--nthreads", "1", "--preload", "flows.dask_preload", "--no-dashboard"],
            env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT))
    cluster = DaskCluster(address, processes)
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=300)
    except BaseException:
        cluster.stop()
        raise
    return cluster
