"""Deliver-phase task: one batch through one session of the process's transport."""

from __future__ import annotations

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from vivier.pipeline import deliver, runs
from vivier.pipeline.guardrails import DeliverabilityStop
from vivier.pipeline.resources import current
from vivier.pipeline.runs import RunSpec
from vivier.transports import TransportRefused


def _retryable(task: Task, task_run: TaskRun, state: State) -> bool:
    """A tripped guardrail is a decision and a server refusing every message a permanent answer,
    not glitches: retrying would only meet them again."""
    return not isinstance(state.data, DeliverabilityStop | TransportRefused)


@task(name="send-batch", cache_policy=NO_CACHE, retry_delay_seconds=[5, 30],
      retry_condition_fn=_retryable, task_run_name="send-{lo}-{hi}")
def send_batch(spec: RunSpec, lo: int, hi: int) -> dict:
    """Claim, send and record this run's pending messages in `(lo, hi]`; safe to retry."""
    resources = current()
    with resources.transport.open() as session:
        tally = deliver.deliver_batch(resources, spec, lo, hi, session)
    runs.heartbeat(resources.engine, spec.run_id)
    return tally.to_dict()
