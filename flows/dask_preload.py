"""Dask worker preload: import Prefect, the flows' tasks and Great Expectations once, at start.

    dask worker tcp://scheduler:8786 --nworkers 2 --nthreads 1 --preload flows.dask_preload

A worker that imports them on its first batch pays 8-30 s per run on 2 busy cores; a warm
cluster (`VIVIER_DASK_ADDRESS`) pays it once. The local cluster a run starts when no address
is set preloads it too, so its workers import while the run opens.
"""

from __future__ import annotations

import great_expectations  # noqa: F401  (data_checks imports it on first validation)

import tasks.plan  # noqa: F401
import tasks.send  # noqa: F401
from data_checks import validate_candidates  # noqa: F401


def dask_setup(worker: object) -> None:
    """Called by the worker once the imports above are done: build the process's resources now
    (engine, compiled templates, segments) rather than in its first batch."""
    from vivier.pipeline.resources import current

    current()
