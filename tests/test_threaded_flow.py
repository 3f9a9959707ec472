"""The lifecycle flows run on Prefect's async engine with their sync body in a thread: they are
called like sync flows, with the same names and parameters; the body sees its flow run, one API
client and working artifacts; a failure fails the run through its hooks; Ctrl-C still ends a run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from prefect.artifacts import create_markdown_artifact
from prefect.context import FlowRunContext, SyncClientContext
from prefect.settings import PREFECT_API_URL

from flows.consent_survey import consent_survey
from flows.deliver import deliver
from flows.nurture import nurture
from flows.threaded import ThreadedFlow, threaded_flow

pytestmark = pytest.mark.usefixtures("prefect_harness")
ROOT = Path(__file__).parent.parent


@threaded_flow(name="threaded-probe", flow_run_name="probe-{day}")
def probe(day: date, label: str = "x") -> dict[str, Any]:
    context = FlowRunContext.get()
    assert context is not None and context.flow_run is not None
    artifact = create_markdown_artifact(markdown="probe", key="threaded-probe", _sync=True)  # type: ignore[call-arg]
    return {"thread": threading.current_thread().name, "day": day, "label": label,
            "run_name": context.flow_run.name, "one_client": SyncClientContext.get() is not None,
            "artifact": str(artifact)}


def test_a_threaded_flow_is_called_like_a_sync_one_and_runs_its_body_in_the_flow_run() -> None:
    seen = probe(day="2026-11-23")  # type: ignore[arg-type]  # a string, validated as Prefect does
    assert seen["day"] == date(2026, 11, 23) and seen["label"] == "x"
    assert seen["thread"] != threading.current_thread().name
    assert seen["run_name"] == "probe-2026-11-23"
    assert seen["one_client"]
    assert "coroutine" not in seen["artifact"]  # created, not left unawaited


def test_a_sync_caller_under_a_running_loop_gets_the_result_and_a_coroutine_awaits_it() -> None:
    """A sync function called while its thread runs a loop (Playwright's sync API, a notebook)
    gets the flow's result, not a coroutine; `await flow(...)` in a coroutine still awaits it."""

    def sync_caller() -> Any:
        return probe(day="2026-11-24", label="sync")  # type: ignore[arg-type]

    async def under_a_loop() -> tuple[Any, Any]:
        from_sync = sync_caller()
        awaited = await probe(day="2026-11-25", label="awaited")  # type: ignore[arg-type]
        return from_sync, awaited

    from_sync, awaited = asyncio.run(under_a_loop())
    assert from_sync["label"] == "sync" and from_sync["run_name"] == "probe-2026-11-24"
    assert awaited["label"] == "awaited" and awaited["run_name"] == "probe-2026-11-25"


@pytest.mark.parametrize(("flow", "name", "parameters"), [
    (nurture, "nurture", ["cadence", "as_of", "dry_run", "segments", "limit", "force", "clock"]),
    (deliver, "deliver", ["clock"]),
    (consent_survey, "consent-survey", ["as_of", "dry_run"]),
])
def test_the_lifecycle_flows_keep_their_names_and_parameters_on_the_async_engine(
    flow: ThreadedFlow, name: str, parameters: list[str],
) -> None:
    assert isinstance(flow, ThreadedFlow) and flow.isasync
    assert flow.name == name and list(flow.parameters.properties) == parameters
    assert flow.on_failure_hooks and flow.on_crashed_hooks
    renamed = flow.with_options(flow_run_name="backfill-weekly-2026-W48")
    assert isinstance(renamed, ThreadedFlow) and renamed.isasync and renamed.fn is flow.fn


def test_a_failing_body_fails_the_run_with_its_error_and_runs_the_failure_hook() -> None:
    hooked: list[str] = []

    @threaded_flow(name="threaded-failing", on_failure=[lambda flow, run, state: hooked.append(state.name)])
    def failing() -> None:
        raise ValueError("row 3: bad email; fix the file and rerun")

    with pytest.raises(ValueError, match="row 3: bad email"):
        failing()
    assert hooked == ["Failed"]


SLOW_BODY = """
import sys, time
from flows.threaded import threaded_flow

@threaded_flow(name="threaded-slow")
def slow() -> None:
    for tick in range(600):
        print("tick", tick, flush=True)
        time.sleep(0.1)
    print("body finished", flush=True)

slow()
"""


def test_ctrl_c_crashes_the_run_and_ends_the_process_without_waiting_for_the_body() -> None:
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    process = subprocess.Popen([sys.executable, "-c", SLOW_BODY], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert process.stdout is not None
    lines = []
    for line in process.stdout:  # the body is running: interrupt it as Ctrl-C does
        lines.append(line)
        if line.startswith("tick"):
            process.send_signal(signal.SIGINT)
            break
    rest, _ = process.communicate(timeout=120)  # a guard against a hang, not a timing
    output = "".join(lines) + rest
    assert process.returncode != 0, output
    assert "body finished" not in output
    assert "Crashed" in output
