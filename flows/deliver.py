"""The `deliver` flow: every hour, send the planned messages whose send window has opened.

A cadence run plans everyone and sends the first wave; this sends the later ones (candidates
whose morning comes later), one deliver run per cadence and period, through the same lifecycle.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from flows.lifecycle import publish_failed_runs, run_lifecycle
from flows.runners import SettingsTaskRunner
from flows.threaded import threaded_flow
from tasks.deliver import adopt_batch, open_deliveries
from vivier.pipeline import waves
from vivier.pipeline.resources import current
from vivier.store.schema import utcnow


def hour_name(moment: datetime) -> str:
    """`deliver-2026-11-23T14Z`: the UTC hour a deliver run is for."""
    return f"deliver-{moment.astimezone(UTC):%Y-%m-%dT%HZ}"


def _run_name() -> str:
    clock = flow_run.parameters.get("clock")
    moment = datetime.fromisoformat(str(clock)) if clock else flow_run.scheduled_start_time or utcnow()
    return hour_name(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


@threaded_flow(name="deliver", flow_run_name=_run_name, task_runner=SettingsTaskRunner(),
               log_prints=False, on_failure=[publish_failed_runs], on_crashed=[publish_failed_runs])
def deliver(clock: datetime | None = None) -> dict:
    """Send every planned message (all cadences) whose send window is open now.

    `clock` (VIVIER_ENV=demo only): the instant to deliver for, to show later waves leaving.
    """
    if clock is not None and not current().settings.is_demo:
        raise ValueError("the clock parameter is for the demo (VIVIER_ENV=demo): elsewhere a "
                         "deliver run sends what is due now; leave clock empty")
    moment = clock if clock is None or clock.tzinfo else clock.replace(tzinfo=UTC)
    hour = open_deliveries(moment or utcnow(), flow_run.id)
    results, problems = {}, []
    for delivery in hour.deliveries:
        spec = delivery.spec
        try:
            results[f"{spec.cadence} {spec.period_key}"] = run_lifecycle(
                spec, delivery.bounds, adopt_batch, delivers_only=True,
                summary=waves.opening_summary(delivery))
        except Exception as problem:  # one period stopping must not hold back the others
            problems.append(f"{spec.cadence} {spec.period_key}: {problem}")
    create_markdown_artifact(markdown=waves.hour_markdown(hour, results, problems), _sync=True,  # type: ignore[call-arg]
                             key="deliver-hour", description="What this deliver hour sent")
    if problems:
        raise RuntimeError("deliver hour incomplete; " + " | ".join(problems)
                           + ". The next hour's run takes up what is still due: nothing is sent twice.")
    return {"deliveries": results, "lapsed": dict(hour.lapsed), "rescheduled": hour.rescheduled}
