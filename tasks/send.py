"""Deliver-phase task: one batch through one reused transport session."""

from __future__ import annotations

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from vivier.pipeline import deliver as delivery
from vivier.pipeline import runs
from vivier.pipeline.guardrails import DeliverabilityStop
from vivier.pipeline.runs import RunSpec
from vivier.settings import get_settings
from vivier.store import db
from vivier.transports import shared_transport


def _retryable(task: Task, task_run: TaskRun, state: State) -> bool:
    """A tripped guardrail is a decision, not a glitch: retrying would only trip it again."""
    return not isinstance(state.data, DeliverabilityStop)


@task(name="send-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=_retryable, task_run_name="send-{lo}-{hi}")
def send_batch(spec: RunSpec, lo: int, hi: int) -> dict:
    """Claim, send and record this run's pending messages in `(lo, hi]`; safe to retry."""
    settings = get_settings()
    engine = db.engine_for(settings.database_url)
    tools = runs.tools_for(engine, settings, spec)
    with shared_transport(settings).open() as session:
        tally = delivery.deliver_batch(engine, settings, spec, lo, hi, tools, session)
    runs.heartbeat(engine, spec.run_id)
    return tally.to_dict()
