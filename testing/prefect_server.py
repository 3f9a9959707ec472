"""A real, throwaway Prefect server (`prefect server start`) in its own PREFECT_HOME.

    with PrefectServer.launch(tmp_path / "prefect") as server:
        deploy = server.prepare(cwd=repo, preload=["flows.nurture"])  # starts Python now
        ...                       # other set-up while the server boots (~25 s CPU)
        server.wait_until_healthy()
        done = deploy.run("deploy", "--all", "--no-prompt")    # `prefect deploy --all …`

The server keeps its SQLite database in the home folder; leaving the `with` block stops it
and every prepared command (whole process groups), also when the test failed.

A prepared command is the `prefect` CLI (the same `prefect.cli.app` entry point) whose
interpreter start and imports happen ahead, in parallel with other work: on a 2-core machine
each `prefect` start costs ~6 s of CPU, and importing the flow's dependencies ~15 s more.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from testing.postgres import free_port

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
        self.commands: list[PreparedCommand] = []

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

    def prepare(self, cwd: Path, preload: Sequence[str] = (), **env: str) -> PreparedCommand:
        """Start a `prefect` CLI process that imports `preload` and waits for its arguments."""
        command = PreparedCommand(self, cwd, preload, env)
        self.commands.append(command)
        return command

    def stop(self, grace: float = 15.0) -> None:
        """Stop the prepared commands, then the server; kill what is left after `grace` s."""
        for command in self.commands:
            command.cancel()
        process, self.process = self.process, None
        if process is not None:
            _stop_group(process, grace)

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


class PrefectCommandTimeout(RuntimeError):
    """A prepared `prefect` command was still running at its deadline (it was killed)."""


class PreparedCommand:
    """One `prefect …` run whose Python start-up is already done; `run` gives it its arguments."""

    def __init__(self, server: PrefectServer, cwd: Path, preload: Sequence[str],
                 env: dict[str, str]) -> None:
        self.server = server
        self.log_path = server.home / f"command-{len(server.commands) + 1}.log"
        with self.log_path.open("wb") as log:  # a file, not a pipe: a chatty worker never blocks
            self.process = subprocess.Popen(
                [sys.executable, "-m", "testing.prefect_server", *preload],
                cwd=cwd, env=server.client_env(**env), stdin=subprocess.PIPE, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )

    def run(self, *args: str, timeout: float = 120.0, **env: str
            ) -> subprocess.CompletedProcess[str]:
        """Run `prefect *args` with `env` added (not PREFECT_*: those are read at start-up)."""
        late = sorted(key for key in env if key.startswith("PREFECT_"))
        if late:
            raise ValueError(f"{', '.join(late)} must be given to `prepare`, not to `run`")
        order = json.dumps({"argv": list(args), "env": env}) + "\n"
        try:
            self.process.communicate(order.encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop_group(self.process, grace=0)
            raise PrefectCommandTimeout(
                f"`prefect {' '.join(args)}` still running after {timeout:.0f} s (killed):\n"
                f"{self.output()[-4000:]}"
            ) from None
        return subprocess.CompletedProcess(["prefect", *args], self.process.returncode,
                                           self.output(), "")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def cancel(self) -> None:
        """End the command if it is still waiting or running (no-op once it has finished)."""
        if self.process.poll() is None:
            _stop_group(self.process, grace=5.0)


def _stop_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group `process` leads, SIGKILL it after `grace` seconds."""
    if process.poll() is not None:
        return
    _signal_group(process.pid, signal.SIGTERM if grace > 0 else signal.SIGKILL)
    try:
        process.wait(timeout=grace or 10)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _run_prepared(preload: Sequence[str]) -> None:
    """The prepared command's process: import, wait for one order on stdin, run the CLI."""
    from prefect.cli import app

    for module in preload:
        importlib.import_module(module)
    line = sys.stdin.readline()
    if not line.strip():
        return  # cancelled before it was needed
    order = json.loads(line)
    os.environ.update(order["env"])
    sys.argv = ["prefect", *order["argv"]]
    app()


def _signal_group(pid: int, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(pid, signal_number)  # the group we created with start_new_session


if __name__ == "__main__":
    _run_prepared(sys.argv[1:])
