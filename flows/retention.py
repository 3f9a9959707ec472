"""The `retention` flow: anonymise every candidate with no active contact for the retention period,
and delete run decisions older than VIVIER_DECISIONS_KEEP_MONTHS (the runs keep their counts).

Monthly (deployment `retention`). Idempotent: an anonymised candidate is never due again,
so a rerun or a retry anonymises only who is still due. `dry_run` lists who would be.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from tasks.retention import prune_decisions, publish, retire
from vivier.gdpr.retention import months_before
from vivier.pipeline.resources import current
from vivier.store.schema import utcnow


def _run_name() -> str:
    moment = flow_run.parameters.get("as_of") or flow_run.scheduled_start_time or utcnow()
    return f"retention-{str(moment)[:10]}"


@flow(name="retention", flow_run_name=_run_name, log_prints=False)
def retention(as_of: datetime | None = None, dry_run: bool = False) -> dict:
    """Anonymise the candidates with no active contact in the `retention_months` before `as_of`."""
    settings = current().settings
    now = as_of or utcnow()
    if now.tzinfo is None:  # a date typed in the UI: the team's calendar
        now = now.replace(tzinfo=settings.zone)
    cutoff = months_before(now, settings.retention_months)
    limit = settings.retention_batch_size
    due: list[int] = []
    anonymised: list[int] = []
    after_id = 0
    while True:
        batch = retire(cutoff, after_id, limit, dry_run)
        due += batch["due"]
        anonymised += batch["anonymised"]
        if len(batch["due"]) < limit:
            break
        after_id = batch["due"][-1]
    pruned = prune_decisions(months_before(now, settings.decisions_keep_months), dry_run)
    publish(cutoff, settings.retention_months, dry_run, due, anonymised)
    get_run_logger().info("retention: %d due, %d anonymised", len(due), len(anonymised))
    return {"cutoff": cutoff.isoformat(), "months": settings.retention_months, "dry_run": dry_run,
            "flow_run_id": flow_run.id, "due": len(due), "anonymised": len(anonymised),
            "decisions_pruned": pruned,
            "candidate_ids": due if dry_run else anonymised}
