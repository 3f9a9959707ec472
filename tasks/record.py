"""Record-phase task: the run summary in `runs` and as Prefect artifacts (ids only, no PII)."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from vivier.pipeline import runs
from vivier.pipeline.resources import current
from vivier.pipeline.summary import RunSummary


@task(name="publish-summary", cache_policy=NO_CACHE)
def publish(summary: RunSummary) -> None:
    """Store the summary with the run and show it in the Prefect UI."""
    runs.set_state(current().engine, summary.run_id, summary.outcome, summary.to_dict())
    key = f"{summary.cadence}-{summary.period_key}".lower().replace("_", "-")  # keys: dashes only
    # _sync: also called (`publish.fn`) by the failure hook of a flow on Prefect's async engine.
    create_markdown_artifact(markdown=summary.markdown(), key=f"{key}-summary", _sync=True,  # type: ignore[call-arg]
                             description=f"vivier {summary.cadence} run for {summary.period_key}")
    if summary.tally.quarantined:
        create_table_artifact(table=summary.quarantine_table(), key=f"{key}-quarantine", _sync=True,  # type: ignore[call-arg]
                              description="Quarantined candidates (ids and failing check), capped")
