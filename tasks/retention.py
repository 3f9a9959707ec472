"""Retention tasks: anonymise one batch of due candidates, publish what the run did (ids only)."""

from __future__ import annotations

from datetime import datetime

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from vivier.gdpr.anonymise import erasure_keys_of, forget_samples
from vivier.gdpr.retention import retire_batch
from vivier.pipeline import decisions
from vivier.pipeline.resources import current

LISTED_IDS = 10_000  # the artifact stays readable; every erasure is also an `erased` interaction


@task(name="retire-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30],
      task_run_name="retire-after-{after_id}")
def retire(cutoff: datetime, after_id: int, limit: int, dry_run: bool) -> dict[str, list[int]]:
    """Anonymise up to `limit` candidates inactive since `cutoff` with ids above `after_id`."""
    resources = current()
    settings = resources.settings
    batch = retire_batch(resources.engine, cutoff, after_id, limit, dry_run=dry_run,
                         flow_run_id=flow_run.id, keys=erasure_keys_of(settings))
    forget_samples(settings.samples_dir, batch.anonymised)
    get_run_logger().info("%d due, %d anonymised", len(batch.due), len(batch.anonymised))
    return {"due": batch.due, "anonymised": batch.anonymised}


@task(name="prune-decisions", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def prune_decisions(before: datetime, dry_run: bool) -> int:
    """Delete decisions older than VIVIER_DECISIONS_KEEP_MONTHS (the runs keep their counts)."""
    if dry_run:
        return 0
    removed = decisions.prune(current().engine, before)
    get_run_logger().info("%d decisions decided before %s deleted", removed, before.date())
    return removed


@task(name="publish-retention", cache_policy=NO_CACHE)
def publish(cutoff: datetime, months: int, dry_run: bool, due: list[int], anonymised: list[int]) -> None:
    """A summary and the table of candidate ids (no PII) in the Prefect UI."""
    verb = "would be anonymised (dry run)" if dry_run else "anonymised"
    listed = due if dry_run else anonymised
    create_markdown_artifact(
        key="retention-summary", description="vivier retention run",
        markdown=(f"# Retention\n\nNo active contact since **{cutoff:%Y-%m-%d}** "
                  f"({months} months): **{len(listed):,}** candidate(s) {verb}."
                  + (f"\n\nThe table lists the first {LISTED_IDS:,}." if len(listed) > LISTED_IDS else "")))
    create_table_artifact(
        key="retention-anonymised", description=f"Candidate ids {verb}",
        table=[{"candidate_id": candidate_id} for candidate_id in listed[:LISTED_IDS]])
