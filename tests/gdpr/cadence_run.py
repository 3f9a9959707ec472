"""One cadence run through the real planning and delivery code, without Prefect (fast enough for
property tests): plan every batch, then deliver through the `none` transport."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from vivier.pipeline import deliver as delivery
from vivier.pipeline import extract, runs
from vivier.pipeline import plan as planning
from vivier.pipeline.runs import RunSpec
from vivier.rules.cadences import period_key, period_start
from vivier.settings import Settings
from vivier.transports.none import NoneTransport


def run_cadence(engine: sa.Engine, settings: Settings, cadence: str, day: date,
                dry_run: bool = False) -> RunSpec:
    """Plan (and unless dry, deliver) `cadence` for the period containing `day`."""
    key = period_key(cadence, day)
    run_id = runs.open_run(engine, cadence, key, dry_run, None)
    spec = RunSpec(run_id=run_id, cadence=cadence, period_key=key,
                   period_start=period_start(cadence, key), as_of=day, dry_run=dry_run)
    tools = runs.tools_for(engine, settings, spec)
    with engine.connect() as conn:
        bounds = extract.batch_bounds(conn, cadence, settings.batch_size)
    for lo, hi in bounds:
        planning.plan_batch(engine, settings, spec, lo, hi, tools)
    if not dry_run:
        with NoneTransport().open() as session:
            for lo, hi in bounds:
                delivery.deliver_batch(engine, settings, spec, lo, hi, tools, session)
    return spec
