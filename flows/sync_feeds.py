"""The `sync-feeds` flow: upsert the team's openings and content from their feeds.

Hourly (deployment `sync-feeds`). Reads VIVIER_JOBS_FEED and VIVIER_CONTENT_FEED (a path or an
http(s) URL; CSV, or JSON Lines for `.jsonl`), the formats of `vivier import jobs|content`.
Idempotent: a second run over the same feeds counts every row unchanged and writes nothing.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from tasks.feeds import publish, sync
from vivier.pipeline.resources import current
from vivier.store.schema import utcnow


def _run_name() -> str:
    moment = flow_run.scheduled_start_time or utcnow()
    return f"sync-feeds-{moment:%Y-%m-%dT%H:%M}"


@flow(name="sync-feeds", flow_run_name=_run_name, log_prints=False)
def sync_feeds(jobs: str | None = None, content: str | None = None) -> dict:
    """Upsert openings and content; `jobs`/`content` override the configured locations.

    One unreadable feed does not keep the other out: both are tried, then the run fails
    naming the feed that could not be read.
    """
    settings = current().settings
    locations = {"jobs": jobs or settings.jobs_feed, "content": content or settings.content_feed}
    futures = {kind: sync.submit(kind, location) for kind, location in locations.items() if location}
    for kind in (kind for kind, location in locations.items() if not location):
        get_run_logger().info("no %s feed configured (VIVIER_%s_FEED): skipped", kind, kind.upper())
    results, unreadable = [], []
    for kind, future in futures.items():
        future.wait()
        if future.state.is_completed():
            results.append(future.result())
        else:
            unreadable.append(kind)
    publish(results)
    if unreadable:
        raise RuntimeError(f"feed(s) not read: {', '.join(unreadable)}; the sync-<feed> task's "
                           "log says why. Nothing of those feeds was imported; the others were.")
    return {result["feed"]: result for result in results}
