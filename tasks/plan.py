"""Plan-phase tasks: open the run, cut the pool into batches, plan each batch, gate quality."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from vivier.pipeline import plan as planning
from vivier.pipeline import run as steps
from vivier.pipeline.resources import current
from vivier.pipeline.runs import RunSpec
from vivier.pipeline.tally import Tally


@task(name="open-run", cache_policy=NO_CACHE)
def open_run(cadence: str, period_key: str, start: date, day: date, dry_run: bool,
             flow_run_id: object, segments: Sequence[str] | None = None,
             clock: datetime | None = None, limit: int | None = None) -> RunSpec:
    """Record the run in `runs`; its spec travels to every batch."""
    return steps.open_spec(current(), cadence, period_key, start, day, dry_run,
                           str(flow_run_id) if flow_run_id else None, segments,
                           clock=clock, limit=limit)


@task(name="plan-scope", cache_policy=NO_CACHE)
def plan_scope(spec: RunSpec, limit: int | None) -> tuple[list[tuple[int, int]], dict]:
    """The batches to plan (a rerun: only who may decide differently) and the others' counts."""
    bounds, kept = steps.plan_scope(current(), spec, limit)
    if spec.basis is not None:
        get_run_logger().info("rerun: %d batch(es) planned again; %d candidates keep their outcome",
                              len(bounds), kept.stages["kept"])
    return bounds, kept.to_dict()


@task(name="plan-batch", cache_policy=NO_CACHE, retry_delay_seconds=[2, 10],
      task_run_name="plan-{lo}-{hi}")
def plan_batch(spec: RunSpec, lo: int, hi: int) -> dict:
    """Extract → validate → consent → render-check one batch; writes decisions and pending sends."""
    return planning.plan_batch(current(), spec, lo, hi).to_dict()


@task(name="quality-gate", cache_policy=NO_CACHE)
def gate(spec: RunSpec, tally: Tally) -> None:
    """Fail the run before any send when too many rows failed the data checks (or none renders)."""
    steps.gate(current(), spec, tally)


@task(name="release-plan", cache_policy=NO_CACHE)
def release_plan(spec: RunSpec) -> None:
    """Drop this run's pending ledger rows: the run stops before sending them."""
    steps.withdraw(current(), spec)
