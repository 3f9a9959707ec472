"""Deliver-hour tasks: open the hour's deliver runs, adopt each batch of due rows."""

from __future__ import annotations

from datetime import datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from vivier.pipeline import waves
from vivier.pipeline.resources import current
from vivier.pipeline.runs import RunSpec


@task(name="open-deliveries", cache_policy=NO_CACHE)
def open_deliveries(moment: datetime, flow_run_id: object) -> waves.Hour:
    """Lapse what passed its lateness limit, reschedule missed windows, open a run per due period."""
    hour = waves.prepare(current(), moment, str(flow_run_id) if flow_run_id else None)
    get_run_logger().info(
        "%d period(s) with messages due; %d lapsed; %d rescheduled to their next window",
        len(hour.deliveries), sum(hour.lapsed.values()), hour.rescheduled)
    return hour


@task(name="adopt-batch", cache_policy=NO_CACHE, retry_delay_seconds=[2, 10],
      task_run_name="adopt-{lo}-{hi}")
def adopt_batch(spec: RunSpec, lo: int, hi: int) -> dict:
    """Take the due rows in `(lo, hi]` for this deliver run; withdraw who may no longer be messaged."""
    return waves.adopt_batch(current(), spec, lo, hi).to_dict()
