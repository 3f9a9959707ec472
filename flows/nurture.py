"""The `nurture` flow: plan every batch, gate on data quality, then deliver and record."""

from __future__ import annotations

import time
from datetime import date, datetime
from functools import partial

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.runtime import flow_run

from flows.runners import SettingsTaskRunner, Window
from tasks.plan import cut_batches, gate, open_run, plan_batch, release_plan
from tasks.record import publish
from tasks.send import send_batch
from vivier.pipeline.guardrails import DeliverabilityStop
from vivier.pipeline.runs import RunSpec
from vivier.pipeline.summary import RunSummary
from vivier.pipeline.tally import Tally
from vivier.rules.cadences import CadenceName, check_lateness, period_key, period_start, today_in
from vivier.rules.segments import load_segments
from vivier.settings import get_settings
from vivier.store.schema import utcnow


def reference_day(as_of: date | str | None, scheduled: datetime | None = None) -> date:
    """The run's day: the parameter, else the scheduled start, else today (team time zone)."""
    if isinstance(as_of, str):
        return date.fromisoformat(as_of[:10])
    if as_of is not None:
        return as_of
    return today_in(get_settings().zone, scheduled)


def _run_name() -> str:
    parameters = flow_run.parameters
    day = reference_day(parameters.get("as_of"), flow_run.scheduled_start_time)
    cadence = str(parameters.get("cadence", "weekly"))
    return f"{cadence}-{period_key(cadence, day)}"


@flow(name="nurture", flow_run_name=_run_name, task_runner=SettingsTaskRunner(),
      log_prints=False)
def nurture(
    cadence: CadenceName = CadenceName.weekly,
    as_of: date | None = None,
    dry_run: bool = False,
    segments: list[str] | None = None,
    limit: int | None = None,
    force: bool = False,
) -> dict:
    """Message every eligible candidate of a cadence once for the period that contains `as_of`."""
    started = time.monotonic()
    settings = get_settings()
    logger = get_run_logger()
    cadence = CadenceName(cadence)
    day = reference_day(as_of, flow_run.scheduled_start_time)
    key = period_key(cadence, day)
    check_lateness(cadence, key, today_in(settings.zone), settings.lateness_days(cadence), force)
    if segments:
        load_segments(settings.segments_file).check_selection(segments)

    run_id = open_run(cadence, key, dry_run, flow_run.id)
    spec = RunSpec(run_id=run_id, cadence=cadence.value, period_key=key,
                   period_start=period_start(cadence, key), as_of=day, dry_run=dry_run,
                   flow_run_id=flow_run.id, segments=tuple(segments) if segments else None,
                   started_at=utcnow())
    bounds = cut_batches(cadence.value, limit)

    tally = Tally()
    try:
        plan = plan_batch.with_options(retries=settings.task_retries)
        for future in Window(partial(plan.submit, spec), bounds, settings.plan_concurrency):
            tally.add(Tally.from_dict(future.result()))
    except Exception:
        release_plan(spec)  # a half-made plan must not be delivered by anyone
        raise
    logger.info("planned %d of %d candidates", tally.stages["planned"], tally.stages["extracted"])
    summary = RunSummary(cadence.value, key, day.isoformat(), dry_run, run_id, flow_run.id, tally)
    try:
        gate(spec, tally)
        _refuse_if_nothing_renders(tally)
    except Exception as problem:
        summary.outcome, summary.notes = "failed", [f"**Stopped before sending:** {problem}"]
        summary.seconds = time.monotonic() - started
        publish(summary)
        raise

    if not dry_run and tally.stages["planned"]:
        _deliver(spec, bounds, tally, summary, settings.smtp_connections)
    summary.outcome = "planned" if dry_run else "completed"
    summary.seconds = time.monotonic() - started
    publish(summary)
    logger.info("%s %s: %s", cadence.value, key, {k: v for k, v in tally.stages.items()})
    return summary.to_dict()


def _stopped_by_guardrail(
    spec: RunSpec, tally: Tally, summary: RunSummary, stop: DeliverabilityStop
) -> None:
    attempted = sum(tally.stages[outcome] for outcome in ("sent", "failed", "hard_bounce", "in_doubt"))
    left = tally.stages["planned"] - attempted
    summary.outcome = "failed"
    summary.notes = [
        f"**Sending stopped by a deliverability guardrail:** {stop}",
        f"{tally.stages['sent']:,} sent; {left:,} left pending. Rerun `vivier run {spec.cadence} "
        f"--as-of {spec.as_of.isoformat()}` when the cause is dealt with: only those are sent.",
    ]
    summary.seconds = 0.0
    publish(summary)
    raise RuntimeError(" ".join(summary.notes).replace("**", "")) from stop


def _refuse_if_nothing_renders(tally: Tally) -> None:
    failures = tally.reasons["render_error"]
    if failures and tally.stages["planned"] == 0:
        raise RuntimeError(
            f"every candidate failed to render ({failures}): the template is broken; see the "
            "quarantine table for the error, fix the template and rerun"
        )


def _deliver(
    spec: RunSpec, bounds: list[tuple[int, int]], tally: Tally, summary: RunSummary,
    connections: int,
) -> None:
    """Send the batches, `connections` at a time, updating the progress artifact as they finish."""
    progress = create_progress_artifact(
        progress=0.0, key=f"{spec.cadence}-{spec.period_key}-sending".lower(),
        description="Share of batches sent",
    )
    send = send_batch.with_options(retries=get_settings().task_retries)
    window = Window(partial(send.submit, spec), bounds, connections)
    problems, stop = [], None
    for done, future in enumerate(window, start=1):
        try:
            tally.add(Tally.from_dict(future.result()))
        except DeliverabilityStop as tripped:  # the running batches stop at their next chunk
            stop = stop or tripped
            window.stop()
        except Exception as problem:  # keep the other batches going; report all at the end
            problems.append(problem)
        update_progress_artifact(progress, 100.0 * done / len(bounds))
    if stop is not None:
        _stopped_by_guardrail(spec, tally, summary, stop)
    if problems:
        sent = tally.stages["sent"]
        summary.outcome = "failed"
        summary.notes = [
            f"**{len(problems)} batch(es) failed:** {problems[0]}",
            f"{sent:,} of {tally.stages['planned']:,} sent. Rerun `vivier run {spec.cadence} "
            f"--as-of {spec.as_of.isoformat()}` to finish: only candidates not yet sent are sent.",
        ]
        summary.seconds = 0.0
        publish(summary)
        raise RuntimeError(" ".join(summary.notes).replace("**", "")) from problems[0]
