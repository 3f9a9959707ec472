"""Feed tasks: upsert one feed (openings or content) from its location, publish what it did."""

from __future__ import annotations

from prefect import Task, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from vivier.imports.feed_sync import FeedUnreachable, shown_location, sync_feed
from vivier.pipeline.resources import current

LISTED_REJECTIONS = 500


def _retryable(task: Task, task_run: TaskRun, state: State) -> bool:
    """Only an unreachable server is worth another try; an unreadable file stays unreadable."""
    try:
        state.result()
    except FeedUnreachable:
        return True
    except Exception:  # noqa: BLE001 - any other failure: the same file would fail the same way
        return False
    return False


@task(name="sync-feed", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[2, 5, 15],
      retry_condition_fn=_retryable, task_run_name="sync-{kind}")
def sync(kind: str, location: str) -> dict:
    """Upsert the `kind` feed read from `location`; counts and rejected lines (no values)."""
    resources = current()
    report = sync_feed(resources.engine, kind, location, resources.settings.zone)
    counts = {"feed": kind, "location": shown_location(location), "read": report.read,
              "imported": report.imported, "updated": report.updated,
              "unchanged": report.skipped, "rejected": len(report.rejected)}
    logger = get_run_logger()
    logger.info("%s from %s: %d read, %d new, %d updated, %d unchanged, %d rejected", kind,
                counts["location"], report.read, report.imported, report.updated,
                report.skipped, len(report.rejected))
    if report.rejected:
        logger.warning("%s: %d row(s) rejected, listed in the feeds-rejected artifact",
                       kind, len(report.rejected))
    counts["rejections"] = [{"feed": kind, "line": r.line, "external_id": r.external_id or "",
                             "reason": r.reason} for r in report.rejected[:LISTED_REJECTIONS]]
    return counts


@task(name="publish-feeds", cache_policy=NO_CACHE)
def publish(results: list[dict]) -> None:
    """The counts per feed, and the rejected lines, as artifacts in the Prefect UI."""
    lines = ["# Feeds", "", "| feed | from | read | new | updated | unchanged | rejected |",
             "|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['feed']} | `{r['location']}` | {r['read']:,} | {r['imported']:,} | "
              f"{r['updated']:,} | {r['unchanged']:,} | {r['rejected']:,} |" for r in results]
    if not results:
        lines.append("\nNo feed configured: set VIVIER_JOBS_FEED and/or VIVIER_CONTENT_FEED.")
    create_markdown_artifact(key="feeds-summary", description="vivier sync-feeds run",
                             markdown="\n".join(lines))
    rejections = [row for r in results for row in r["rejections"]]
    if rejections:
        create_table_artifact(key="feeds-rejected", table=rejections,
                              description=f"Rejected feed rows (first {LISTED_REJECTIONS} per feed)")
