"""The `nurture` flow: plan every batch, gate on data quality, then deliver and record."""

from __future__ import annotations

from datetime import UTC, date, datetime

from prefect.runtime import flow_run

from flows.lifecycle import publish_failed_runs, run_lifecycle
from flows.runners import SettingsTaskRunner
from flows.threaded import threaded_flow
from tasks.plan import open_run, plan_batch, plan_scope
from vivier.pipeline.resources import current
from vivier.pipeline.tally import Tally
from vivier.rules.cadences import CadenceName, check_lateness, period_key, period_start, today_in


def reference_day(as_of: date | str | None, scheduled: datetime | None = None) -> date:
    """The run's day: the parameter, else the scheduled start, else today (team time zone)."""
    if isinstance(as_of, str):
        return date.fromisoformat(as_of[:10])
    if as_of is not None:
        return as_of
    return today_in(current().settings.zone, scheduled)


def _run_name() -> str:
    parameters = flow_run.parameters
    day = reference_day(parameters.get("as_of"), flow_run.scheduled_start_time)
    cadence = str(parameters.get("cadence", "weekly"))
    return f"{cadence}-{period_key(cadence, day)}"


@threaded_flow(name="nurture", flow_run_name=_run_name, task_runner=SettingsTaskRunner(),
               log_prints=False, on_failure=[publish_failed_runs], on_crashed=[publish_failed_runs])
def nurture(
    cadence: CadenceName = CadenceName.weekly,
    as_of: date | None = None,
    dry_run: bool = False,
    segments: list[str] | None = None,
    limit: int | None = None,
    force: bool = False,
    clock: datetime | None = None,
) -> dict:
    """Message every eligible candidate of a cadence once for the period that contains `as_of`.

    Each message leaves in the candidate's own send window: this run sends those open now, the
    hourly `deliver` the later ones. `clock` (VIVIER_ENV=demo only) is the instant whose windows
    count, to show the waves.
    """
    settings = current().settings
    if clock is not None and not settings.is_demo:
        raise ValueError("the clock parameter is for the demo (VIVIER_ENV=demo): elsewhere "
                         "messages leave in their windows from now on; leave clock empty")
    cadence = CadenceName(cadence)
    day = reference_day(as_of, flow_run.scheduled_start_time)
    key = period_key(cadence, day)
    check_lateness(cadence, key, today_in(settings.zone), settings.lateness_days(cadence), force)
    if segments:
        current().segments.check_selection(segments)
    clock = clock if clock is None or clock.tzinfo else clock.replace(tzinfo=UTC)
    spec = open_run(cadence.value, key, period_start(cadence, key), day, dry_run, flow_run.id, segments,
                    clock, limit)
    bounds, kept = plan_scope(spec, limit)
    return run_lifecycle(spec, bounds, plan_batch, kept=Tally.from_dict(kept))
