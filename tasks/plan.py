"""Plan-phase tasks: open the run, cut the pool into batches, plan each batch, gate quality."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from data_checks import quality_gate
from vivier.pipeline import extract, runs
from vivier.pipeline import plan as planning
from vivier.pipeline.runs import RunSpec
from vivier.pipeline.tally import Tally
from vivier.settings import get_settings
from vivier.store import db


@task(name="open-run", cache_policy=NO_CACHE)
def open_run(cadence: str, period_key: str, dry_run: bool, flow_run_id: str | None) -> int:
    """Record the run in `runs` and return its id."""
    engine = db.engine_for(get_settings().database_url)
    return runs.open_run(engine, cadence, period_key, dry_run, flow_run_id)


@task(name="cut-batches", cache_policy=NO_CACHE)
def cut_batches(cadence: str, limit: int | None) -> list[tuple[int, int]]:
    """Id ranges of about one batch each over the cadence's pool (rows never travel)."""
    settings = get_settings()
    with db.engine_for(settings.database_url).connect() as conn:
        bounds = extract.batch_bounds(conn, cadence, settings.batch_size, limit)
    get_run_logger().info("%d batches of up to %d candidates", len(bounds), settings.batch_size)
    return bounds


@task(name="plan-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10],
      task_run_name="plan-{lo}-{hi}")
def plan_batch(spec: RunSpec, lo: int, hi: int) -> dict:
    """Extract → validate → consent → render-check one batch; writes decisions and pending sends."""
    settings = get_settings()
    engine = db.engine_for(settings.database_url)
    tally = planning.plan_batch(engine, settings, spec, lo, hi, runs.tools_for(engine, settings, spec))
    return tally.to_dict()


@task(name="quality-gate", cache_policy=NO_CACHE)
def gate(spec: RunSpec, tally: Tally) -> None:
    """Fail the run before any send when too many rows failed the data checks."""
    settings = get_settings()
    # Rows already sent this period count as passing: they did, in the run that sent them.
    checked = tally.stages["extracted"] - tally.stages["outside_segments"]
    try:
        quality_gate(checked, dict(tally.checks), tally.stages["invalid"], settings.quality_threshold)
    except Exception:
        release_plan(spec)
        raise


@task(name="release-plan", cache_policy=NO_CACHE)
def release_plan(spec: RunSpec) -> None:
    """Drop this run's pending ledger rows: the run stops before sending them."""
    if not spec.dry_run:
        runs.release_plan(db.engine_for(get_settings().database_url), spec.run_id)
