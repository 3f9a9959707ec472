"""The one lifecycle of a run, for every flow that sends: plan in a window → gate → deliver in a
window → publish. Failures publish their summary from one place, the flows' `on_failure` /
`on_crashed` hook; task retries are configured here, once.
"""

from __future__ import annotations

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
from vivier.pipeline.guardrails import DeliverabilityStop
from vivier.pipeline.resources import current
from vivier.pipeline.runs import RunSpec
from vivier.pipeline.summary import RunSummary
from vivier.pipeline.tally import Tally
from vivier.transports import TransportRefused

# Summaries of runs not yet published, per flow run: what the failure hook publishes.
_open: dict[str, list[tuple[RunSummary, float]]] = {}
_open_lock = threading.Lock()


def with_retries(task: Task[Any, Any]) -> Task[Any, Any]:
    """The batch tasks' retries: `VIVIER_TASK_RETRIES` of them (safe: the ledger never resends)."""
    return task.with_options(retries=current().settings.task_retries)


def run_lifecycle(
    spec: RunSpec, bounds: list[tuple[int, int]], plan_task: Task[Any, Any], label: str | None = None,
) -> dict[str, Any]:
    """Plan every batch (a window at a time), gate, deliver (a window at a time) and publish."""
    settings = current().settings
    summary = steps.new_summary(spec, label)
    started = time.monotonic()
    key = str(spec.flow_run_id)
    with _open_lock:
        _open.setdefault(key, []).append((summary, started))
    tally = summary.tally
    try:
        steps.preflight(current(), spec)  # keys and headers: before any row is written
    except steps.RunStopped as refused:
        summary.notes = refused.notes
        raise
    try:
        for future in Window(partial(with_retries(plan_task).submit, spec), bounds,
                             settings.plan_concurrency):
            tally.add(Tally.from_dict(future.result()))
    except Exception:
        release_plan(spec)  # a half-made plan must not be delivered by anyone
        raise
    get_run_logger().info("%s %s: planned %d of %d candidates", summary.cadence, spec.period_key,
                          tally.stages["planned"], tally.stages["extracted"])
    try:
        gate(spec, tally)
    except Exception as problem:
        summary.notes = [f"**Stopped before sending:** {problem}"]
        raise
    if not spec.dry_run and tally.stages["planned"]:
        try:
            steps.check_transport(current(), spec, tally)  # before the first claim
        except steps.RunStopped as refused:
            summary.notes = refused.notes
            raise
        try:
            steps.collect_deliveries(tally, _deliver(spec, bounds, settings.smtp_connections))
        except Exception as problem:
            stopped = steps.delivery_stopped(spec, tally, problem)
            summary.notes = stopped.notes
            raise stopped from problem
        try:
            steps.check_failed_share(current(), spec, tally)  # green means sent
        except steps.RunStopped as failed:
            summary.notes = failed.notes
            raise
    steps.finish(summary, started)
    with _open_lock:
        _open[key].remove((summary, started))
    publish(summary)
    get_run_logger().info("%s %s: %s", summary.cadence, spec.period_key, dict(tally.stages))
    return summary.to_dict()


def _deliver(
    spec: RunSpec, bounds: list[tuple[int, int]], connections: int,
) -> Iterator[Tally | BaseException]:
    """Send the batches, `connections` at a time, updating the progress artifact as they finish."""
    progress = create_progress_artifact(
        progress=0.0, key=f"{spec.cadence}-{spec.period_key}-sending".lower().replace("_", "-"),
        description="Share of batches sent",
    )
    window = Window(partial(with_retries(send_batch).submit, spec), bounds, connections)
    for done, future in enumerate(window, start=1):
        try:
            yield Tally.from_dict(future.result())
        except (DeliverabilityStop, TransportRefused) as tripped:  # running batches stop soon
            window.stop()
            yield tripped
        except Exception as problem:  # keep the other batches going; report all at the end
            yield problem
        update_progress_artifact(progress, 100.0 * done / len(bounds))  # type: ignore[arg-type]


def publish_failed_runs(flow: Flow[Any, Any], flow_run: FlowRun, state: State[Any]) -> None:
    """on_failure / on_crashed: publish the summary of every run this flow run left unfinished."""
    with _open_lock:
        unfinished = _open.pop(str(flow_run.id), [])
    for summary, started in unfinished:
        summary.outcome = "failed"
        summary.notes = summary.notes or [f"**Stopped:** {state.message or state.name}"]
        summary.seconds = time.monotonic() - started
        publish.fn(summary)  # the plain function: the flow run is already over
