"""A throwaway PostgreSQL server in a temporary folder, run as an unprivileged user."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SERVICE_USER = "postgres"  # created by Debian's postgresql package


class PostgresUnavailable(RuntimeError):
    """PostgreSQL binaries are missing: install Debian's `postgresql` package."""


def find_bindir() -> Path:
    """The folder with initdb/pg_ctl, from pg_config or Debian's versioned layout."""
    explicit = os.environ.get("VIVIER_PG_BINDIR")
    candidates = [Path(explicit)] if explicit else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    if (pg_config := shutil.which("pg_config")) is not None:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(Path(out.stdout.strip()))
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise PostgresUnavailable(
        "no initdb/pg_ctl found: run `apt-get install -y postgresql` (or set VIVIER_PG_BINDIR)"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server; `url(dbname)` gives a psycopg URL to one of its databases."""

    root: Path
    port: int
    bindir: Path
    as_user: str | None

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{SERVICE_USER}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    def start(self) -> None:
        data = self.root / "data"
        done = self._run("initdb", "-D", str(data), "-U", SERVICE_USER, "-A", "trust",
                         "-E", "UTF8", "--no-locale", "--no-sync")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200 -c shared_buffers=256MB")
        done = self._run("pg_ctl", "-D", str(data), "-l", str(self.root / "server.log"),
                         "-o", options, "-w", "-t", "60", "start")
        if done.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace")
            raise RuntimeError(f"PostgreSQL did not start:\n{done.stderr}\n{log}")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """Start a server on a free loopback port; as root, it runs as the `postgres` user."""
    bindir = find_bindir()
    as_user = None
    root = Path(tempfile.mkdtemp(prefix="vivier-pg-"))
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam(SERVICE_USER)
        except KeyError as exc:
            raise PostgresUnavailable(
                f"running as root and there is no {SERVICE_USER!r} user to run PostgreSQL as"
            ) from exc
        os.chown(root, entry.pw_uid, entry.pw_gid)
        as_user = SERVICE_USER
    server = PostgresServer(root=root, port=free_port(), bindir=bindir, as_user=as_user)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    for _ in range(50):  # pg_ctl -w returns when ready; this guards the TCP listener too
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", server.port)) == 0:
                return server
        time.sleep(0.1)
    return server
