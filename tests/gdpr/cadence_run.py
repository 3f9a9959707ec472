"""One cadence run through the real pipeline, without Prefect (fast enough for property tests):
`run_period` with the test's own resources and the `none` transport."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from vivier.pipeline.resources import Resources
from vivier.pipeline.run import run_period
from vivier.pipeline.summary import RunSummary
from vivier.settings import Settings
from vivier.transports.none import NoneTransport


def run_cadence(engine: sa.Engine, settings: Settings, cadence: str, day: date,
                dry_run: bool = False) -> RunSummary:
    """Plan (and unless dry, deliver) `cadence` for the period containing `day`."""
    assert str(engine.url) == str(sa.make_url(settings.database_url))  # one database, said once
    # Tiny generated pools: judge every candidate, never the pool's share of bad rows.
    per_candidate = settings.model_copy(update={"quality_threshold": 1.0})
    resources = Resources.build(per_candidate, transport=NoneTransport())
    return run_period(resources, cadence, day, dry_run=dry_run, force=True)
