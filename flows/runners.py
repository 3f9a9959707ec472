"""Where a run's batch tasks execute: threads of the flow's process, or a Dask cluster.

    VIVIER_TASK_RUNNER=thread                  # default: 8 threads in the flow run's process
    VIVIER_TASK_RUNNER=dask                    # a LocalCluster of VIVIER_DASK_WORKERS processes
    VIVIER_DASK_ADDRESS=tcp://10.0.0.5:8786    # ... or an existing cluster's scheduler

A long-lived cluster is the fast one: its workers, started with `--preload flows.dask_preload`,
import Prefect, vivier and Great Expectations once instead of in every run.

The choice is read when a flow run starts (in the process that runs it), not when the flow
module is imported, so a worker's environment decides. On Dask, each batch task runs in a
worker process: the `RunSpec` and the batch bounds travel pickled, rows never do, and the
task reads its settings from the *worker's* environment (the same `VIVIER_*` must be set
there: a LocalCluster's workers inherit the flow's). The ledger's unique key and the claim
keep workers from sending one message twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from vivier.pipeline.resources import current
from vivier.settings import Settings, TaskRunnerName

THREADS = 8  # plan and send batches of one run in flight at once in the flow's process
PRELOAD = "flows.dask_preload"  # what a worker imports at start (`dask worker --preload ...`)


def batch_task_runner(settings: Settings) -> TaskRunner[Any]:
    """A new task runner for a run's batches, as `settings.task_runner` says."""
    if settings.task_runner is TaskRunnerName.thread:
        return ThreadPoolTaskRunner(max_workers=THREADS)
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:  # pragma: no cover - prefect-dask is a declared dependency
        raise RuntimeError(
            "VIVIER_TASK_RUNNER=dask needs the prefect-dask package: pip install prefect-dask"
        ) from None
    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    # One thread per worker process: a plan batch is pure-Python work that holds the GIL.
    return DaskTaskRunner(cluster_kwargs={
        "n_workers": settings.dask_workers, "threads_per_worker": 1, "processes": True,
        "dashboard_address": None, "preload": [PRELOAD],
    })


class SettingsTaskRunner(ThreadPoolTaskRunner):
    """The flow's task runner, chosen from the settings each time a flow run starts.

    Prefect starts every flow run with `task_runner.duplicate()`: that is where the settings of
    the process running it are read (the decorator runs at import, before a worker's env counts).
    """

    def __init__(self) -> None:
        super().__init__(max_workers=THREADS)

    def duplicate(self) -> TaskRunner[Any]:  # type: ignore[override]
        return batch_task_runner(current().settings)


class Window:
    """Runs a run's batch tasks at most `width` at a time, in order, yielding each as it finishes.

    Planning and sending both use it: memory stays at `width` batches whatever the pool size,
    and a stop (a tripped guardrail) leaves the batches not yet started untouched.
    """

    def __init__(
        self, submit: Callable[[int, int], PrefectFuture[Any]], bounds: list[tuple[int, int]],
        width: int,
    ) -> None:
        self._submit, self._waiting, self._width = submit, list(bounds), max(1, width)

    def stop(self) -> None:
        """Start no further batch; the running ones finish (or stop on their own)."""
        self._waiting.clear()

    def __iter__(self) -> Iterator[PrefectFuture[Any]]:
        running = [self._submit(*self._waiting.pop(0))
                   for _ in range(min(self._width, len(self._waiting)))]
        while running:
            future = next(as_completed(running))
            running.remove(future)
            yield future  # the caller may stop() here, before the next batch starts
            if self._waiting:
                running.append(self._submit(*self._waiting.pop(0)))
