"""Consent-survey tasks: cut a survey kind's audience into batches, plan each batch."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from vivier.pipeline import survey, survey_plan
from vivier.pipeline.resources import current
from vivier.pipeline.runs import RunSpec
from vivier.store.schema import utcnow


@task(name="survey-batches", cache_policy=NO_CACHE, task_run_name="batches-{spec.cadence}")
def survey_batches(spec: RunSpec) -> list[tuple[int, int]]:
    """Id ranges over the candidates this kind asks at the run's start (rows never travel)."""
    resources = current()
    settings = resources.settings
    with resources.engine.connect() as conn:
        bounds = survey.audience_bounds(conn, spec.cadence, spec.period_key,
                                        spec.started_at or utcnow(), settings, settings.batch_size)
    get_run_logger().info("%s: %d batches of up to %d candidates", spec.cadence, len(bounds),
                          settings.batch_size)
    return bounds


@task(name="plan-survey-batch", cache_policy=NO_CACHE, retry_delay_seconds=[2, 10],
      task_run_name="plan-{lo}-{hi}")
def plan_survey_batch(spec: RunSpec, lo: int, hi: int) -> dict:
    """Extract → validate → consent → render-check one batch of a survey kind."""
    return survey_plan.plan_survey_batch(current(), spec, lo, hi).to_dict()
