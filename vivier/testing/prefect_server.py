"""A real, throwaway Prefect server (`prefect server start`) in its own PREFECT_HOME.

    with PrefectServer.launch(tmp_path / "prefect") as server:
        ...                       # do other set-up while it boots (~15-25 s on 2 cores)
        server.wait_until_healthy()
        subprocess.run(["prefect", "deploy", "--all", "--no-prompt"], env=server.client_env())

The server keeps its SQLite database in the home folder; leaving the `with` block stops it
(the whole process group), also when the test failed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Self

from vivier.testing.postgres import free_port

QUIET = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


class PrefectServerFailed(RuntimeError):
    """The Prefect server did not come up; the message carries the end of its log."""


def prefect_executable() -> str:
    """The `prefect` script next to this interpreter (the project's virtualenv), else on PATH."""
    beside = Path(sys.executable).with_name("prefect")
    found = str(beside) if beside.exists() else shutil.which("prefect")
    if found is None:
        raise PrefectServerFailed("no `prefect` command found: run `pip install -e .` first")
    return found


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without PREFECT_* / VIVIER_* variables, plus `extra`."""
    # An inherited PREFECT_API_DATABASE_CONNECTION_URL or VIVIER_DATABASE_URL would point
    # the throwaway server or the flow at someone's real database.
    kept = {key: value for key, value in os.environ.items()
            if not key.startswith(("PREFECT_", "VIVIER_"))}
    return {**kept, **QUIET, **extra}


class PrefectServer:
    """One `prefect server start` subprocess on 127.0.0.1 and a free port."""

    def __init__(self, home: Path, port: int | None = None, *, ui: bool = False) -> None:
        self.home = home
        self.port = port or free_port()
        self.ui = ui
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def log_path(self) -> Path:
        return self.home / "server.log"

    def client_env(self, **extra: str) -> dict[str, str]:
        """Environment for a CLI, worker or flow process that talks to this server."""
        return clean_environment(PREFECT_HOME=str(self.home), PREFECT_API_URL=self.api_url,
                                 PREFECT_CLI_PROMPT="false", **extra)

    # -- lifecycle ---------------------------------------------------------------------

    @classmethod
    def launch(cls, home: Path, port: int | None = None, *, ui: bool = False) -> Self:
        """Start the server process without waiting for it (see `wait_until_healthy`)."""
        server = cls(home, port, ui=ui)
        server.home.mkdir(parents=True, exist_ok=True)
        command = [prefect_executable(), "server", "start", "--host", "127.0.0.1",
                   "--port", str(server.port), "--ui" if ui else "--no-ui"]
        with server.log_path.open("wb") as log:
            server.process = subprocess.Popen(
                command, env=server.client_env(), cwd=server.home, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: `stop` ends it and its children
            )
        return server

    def wait_until_healthy(self, timeout: float = 120.0) -> Self:
        """Block until `/api/health` answers; raise with the server's log if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise PrefectServerFailed(f"the Prefect server exited early:\n{self.log_tail()}")
            if self.healthy():
                return self
            time.sleep(0.25)
        raise PrefectServerFailed(
            f"the Prefect server did not answer {self.api_url}/health within {timeout:.0f} s "
            f"(machine too busy? raise the timeout):\n{self.log_tail()}"
        )

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as reply:
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, grace: float = 15.0) -> None:
        """Ask the server's process group to stop, then kill what is left after `grace` s."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no server log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_prefect_server(home: Path, timeout: float = 120.0) -> PrefectServer:
    """Launch a server and wait until it is healthy (stopped again if it never gets there)."""
    server = PrefectServer.launch(home)
    try:
        return server.wait_until_healthy(timeout)
    except BaseException:
        server.stop()
        raise


def _signal_group(pid: int, signal_number: int) -> None:
    try:
        os.killpg(pid, signal_number)  # the group we created with start_new_session
    except ProcessLookupError:
        pass
