"""The `consent-survey` flow: ask undecided candidates, remind them once, renew old consents.

Each kind (survey, reminder, renewal) is a run of its own in `runs`, planned and delivered
through the same ledger as the cadences, keyed by the month: rerunning sends nothing twice.
"""

from __future__ import annotations

import time
from datetime import date

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from flows.nurture import reference_day
from tasks.plan import gate, open_run, release_plan
from tasks.record import publish
from tasks.send import send_batch
from tasks.survey import plan_survey_batch, survey_batches
from vivier.pipeline.runs import RunSpec
from vivier.pipeline.summary import RunSummary
from vivier.pipeline.survey import KINDS, survey_period_key
from vivier.pipeline.tally import Tally
from vivier.rules.cadences import period_start
from vivier.settings import get_settings
from vivier.store.schema import utcnow


def _run_name() -> str:
    day = reference_day(flow_run.parameters.get("as_of"), flow_run.scheduled_start_time)
    return f"consent-survey-{survey_period_key(day)}"


@flow(name="consent-survey", flow_run_name=_run_name, task_runner=ThreadPoolTaskRunner(max_workers=4),
      log_prints=False)
def consent_survey(as_of: date | None = None, dry_run: bool = False) -> dict:
    """Ask who has not decided to join the privileged pool (one reminder); renew old consents."""
    day = reference_day(as_of, flow_run.scheduled_start_time)
    key = survey_period_key(day)
    results, problems = {}, []
    for kind in KINDS:
        try:
            results[kind] = _survey_run(kind, key, day, dry_run)
        except Exception as problem:  # one kind failing must not keep the others from running
            problems.append(f"{kind}: {problem}")
    if problems:
        raise RuntimeError("consent survey incomplete; " + " | ".join(problems)
                           + f". Rerun the flow for {day.isoformat()}: nothing is sent twice.")
    return results


def _survey_run(kind: str, key: str, day: date, dry_run: bool) -> dict:
    """Plan → quality gate → deliver → summary, for one kind of survey message."""
    started = time.monotonic()
    run_id = open_run(kind, key, dry_run, flow_run.id)
    spec = RunSpec(run_id=run_id, cadence=kind, period_key=key,
                   period_start=period_start("monthly", key), as_of=day, dry_run=dry_run,
                   flow_run_id=flow_run.id, started_at=utcnow())
    bounds = survey_batches(spec)
    tally = Tally()
    try:
        for future in [plan_survey_batch.submit(spec, lo, hi) for lo, hi in bounds]:
            tally.add(Tally.from_dict(future.result()))
    except Exception:
        release_plan(spec)
        raise
    # Artifact keys take dashes only: the summary shows `consent-survey`, the ledger `consent_survey`.
    summary = RunSummary(kind.replace("_", "-"), key, day.isoformat(), dry_run, run_id,
                         flow_run.id, tally)
    try:
        gate(spec, tally)
        if not dry_run and tally.stages["planned"]:
            send = send_batch.with_options(retries=get_settings().task_retries)
            for lo, hi in bounds:
                tally.add(Tally.from_dict(send(spec, lo, hi)))
    except Exception as problem:
        summary.outcome, summary.notes = "failed", [f"**Stopped:** {problem}"]
        summary.seconds = time.monotonic() - started
        publish(summary)
        raise
    summary.outcome = "planned" if dry_run else "completed"
    summary.seconds = time.monotonic() - started
    publish(summary)
    get_run_logger().info("%s %s: %s", kind, key, dict(tally.stages))
    return summary.to_dict()
