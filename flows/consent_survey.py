"""The `consent-survey` flow: ask undecided candidates, remind them once, renew old consents.

Each kind (survey, reminder, renewal) is a run of its own in `runs`, planned and delivered
through the same lifecycle and ledger as the cadences, keyed by the month: rerunning sends
nothing twice.
"""

from __future__ import annotations

from datetime import date

from prefect.runtime import flow_run

from flows.lifecycle import publish_failed_runs, run_lifecycle
from flows.nurture import reference_day
from flows.runners import SettingsTaskRunner
from flows.threaded import threaded_flow
from tasks.plan import open_run
from tasks.survey import plan_survey_batch, survey_batches
from vivier.pipeline.survey import KINDS, survey_period_key
from vivier.rules.cadences import period_start


def _run_name() -> str:
    day = reference_day(flow_run.parameters.get("as_of"), flow_run.scheduled_start_time)
    return f"consent-survey-{survey_period_key(day)}"


@threaded_flow(name="consent-survey", flow_run_name=_run_name, task_runner=SettingsTaskRunner(),
               log_prints=False, on_failure=[publish_failed_runs], on_crashed=[publish_failed_runs])
def consent_survey(as_of: date | None = None, dry_run: bool = False) -> dict:
    """Ask who has not decided to join the privileged pool (one reminder); renew old consents."""
    day = reference_day(as_of, flow_run.scheduled_start_time)
    key = survey_period_key(day)
    results, problems = {}, []
    for kind in KINDS:
        try:
            spec = open_run(kind, key, period_start("monthly", key), day, dry_run, flow_run.id)
            # Artifact keys take dashes only: the summary shows `consent-survey`, the ledger `consent_survey`.
            results[kind] = run_lifecycle(spec, survey_batches(spec), plan_survey_batch,
                                          label=kind.replace("_", "-"))
        except Exception as problem:  # one kind failing must not keep the others from running
            problems.append(f"{kind}: {problem}")
    if problems:
        raise RuntimeError("consent survey incomplete; " + " | ".join(problems)
                           + f". Rerun the flow for {day.isoformat()}: nothing is sent twice.")
    return results
