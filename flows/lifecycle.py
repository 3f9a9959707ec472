"""The one lifecycle of a run, for every flow that sends: plan in a window → gate → deliver in a
window → publish. Failures publish their summary from one place, the flows' `on_failure` /
`on_crashed` hook; task retries are configured here, once.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

from prefect import Flow, Task, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.client.schemas.objects import FlowRun, State

from flows.runners import Window
from tasks.plan import gate, release_plan
from tasks.record import publish
from tasks.send import send_batch
from vivier.pipeline import run as steps
from vivier.pipeline import runs
from vivier.pipeline.guardrails import DeliverabilityStop
from vivier.pipeline.resources import current
from vivier.pipeline.runs import RunSpec
from vivier.pipeline.summary import RunSummary
from vivier.pipeline.tally import Tally
from vivier.transports import TransportRefused

PROGRESS_EVERY_SECONDS = 2.0  # how often the sending progress reads the ledger
# Summaries of runs not yet published, per flow run: what the failure hook publishes.
_open: dict[str, list[tuple[RunSummary, float]]] = {}
_open_lock = threading.Lock()


def with_retries(task: Task[Any, Any]) -> Task[Any, Any]:
    """The batch tasks' retries: `VIVIER_TASK_RETRIES` of them (safe: the ledger never resends)."""
    return task.with_options(retries=current().settings.task_retries)


def run_lifecycle(
    spec: RunSpec, bounds: list[tuple[int, int]], plan_task: Task[Any, Any], label: str | None = None,
    *, delivers_only: bool = False, summary: RunSummary | None = None, kept: Tally | None = None,
) -> dict[str, Any]:
    """The run's lifecycle (`vivier.pipeline.run.carry_out`) with its batches as Prefect tasks,
    a window at a time, then the summary published; a stop is published by the failure hook.

    `delivers_only`: a deliver run (`plan_task` adopts due rows their cadence run planned and
    gated): no quality gate, and nothing of the plan is ever withdrawn.
    """
    settings = current().settings
    summary = summary or steps.new_summary(spec, label)
    started = time.monotonic()
    key = str(spec.flow_run_id)
    with _open_lock:
        _open.setdefault(key, []).append((summary, started))
    batches = steps.Batches(
        plan=lambda chosen: _plan(spec, chosen, plan_task, settings.plan_concurrency),
        deliver=lambda chosen, planned: _deliver(spec, chosen, settings.smtp_connections, planned),
        gate=(lambda tally: None) if delivers_only else lambda tally: gate(spec, tally),
        withdraw=(lambda: None) if delivers_only else lambda: release_plan(spec),
        log=get_run_logger())
    steps.carry_out(current(), spec, summary, bounds, batches, kept)
    steps.finish(summary, started)
    with _open_lock:
        _open[key].remove((summary, started))
    publish(summary)
    get_run_logger().info("%s %s: %s", summary.cadence, spec.period_key, dict(summary.tally.stages))
    return summary.to_dict()


def _plan(
    spec: RunSpec, bounds: list[tuple[int, int]], plan_task: Task[Any, Any], width: int,
) -> Iterator[Tally]:
    """Plan the batches, `width` at a time, with a progress artifact of its own."""
    planning = _progress(spec, "planning", "Share of the pool's batches planned")
    window = Window(partial(with_retries(plan_task).submit, spec), bounds, width)
    for done, future in enumerate(window, start=1):
        yield Tally.from_dict(future.result())
        update_progress_artifact(planning, 100.0 * done / len(bounds), _sync=True)  # type: ignore[arg-type,call-arg]


def _deliver(
    spec: RunSpec, bounds: list[tuple[int, int]], connections: int, planned: int,
) -> Iterator[Tally | BaseException]:
    """Send the batches, `connections` at a time; the progress artifact counts messages."""
    progress = _progress(spec, "sending", "Share of the planned messages handed to the transport")
    window = Window(partial(with_retries(send_batch).submit, spec), bounds, connections)
    with _MessageProgress(spec, planned, progress):
        for future in window:
            try:
                yield Tally.from_dict(future.result())
            except (DeliverabilityStop, TransportRefused) as tripped:  # running batches stop soon
                window.stop()
                yield tripped
            except Exception as problem:  # keep the other batches going; report all at the end
                yield problem


def _progress(spec: RunSpec, phase: str, description: str) -> Any:
    key = f"{spec.cadence}-{spec.period_key}-{phase}".lower().replace("_", "-")  # keys: dashes only
    # _sync: the flows run on Prefect's async engine (flows/threaded.py), where Prefect's artifact
    # functions called outside a task would return coroutines; the body is sync code in a thread.
    return create_progress_artifact(progress=0.0, key=key, description=description,
                                    _sync=True)  # type: ignore[call-arg]


class _MessageProgress:
    """While batches send, reads from the ledger how many of the planned messages were handed
    over and shows that share (a run that sent nothing reads 0%, one batch still moves)."""

    def __init__(self, spec: RunSpec, planned: int, artifact: Any) -> None:
        self.spec, self.planned, self.artifact = spec, max(planned, 1), artifact
        self._stop = threading.Event()
        context = contextvars.copy_context()  # the flow run's context: the artifact's client
        self._thread = threading.Thread(target=context.run, args=(self._watch,), daemon=True,
                                        name=f"progress-{spec.run_id}")

    def __enter__(self) -> _MessageProgress:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._show()  # the final figure, whatever the last tick saw

    def _watch(self) -> None:
        while not self._stop.wait(PROGRESS_EVERY_SECONDS):
            self._show()

    def _show(self) -> None:
        done = runs.attempted(current().engine, self.spec.run_id)
        update_progress_artifact(self.artifact, min(100.0, 100.0 * done / self.planned),
                                 _sync=True)  # type: ignore[call-arg]


def publish_failed_runs(flow: Flow[Any, Any], flow_run: FlowRun, state: State[Any]) -> None:
    """on_failure / on_crashed: publish the summary of every run this flow run left unfinished."""
    with _open_lock:
        unfinished = _open.pop(str(flow_run.id), [])
    for summary, started in unfinished:
        summary.outcome = "failed"
        summary.notes = summary.notes or [f"**Stopped:** {state.message or state.name}"]
        summary.seconds = time.monotonic() - started
        publish.fn(summary)  # the plain function: the flow run is already over
