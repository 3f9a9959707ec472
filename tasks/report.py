"""Report tasks: compute the nurturing report's figures, publish them as Prefect artifacts (no PII)."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from vivier.pipeline.resources import current
from vivier.report import Report, ReportFilters, build_report
from vivier.report.render import markdown, pool_rows, table_rows

ARTIFACT_KEY = "nurturing-report"


@task(name="compute-report", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def compute(filters: ReportFilters) -> Report:
    """The figures per cadence × segment × period, aggregated in the database."""
    resources = current()
    settings = resources.settings
    report = build_report(resources.engine, filters, settings.attribution_days, settings.zone)
    get_run_logger().info("report over %s: %d rows, %d messages sent",
                          filters.describe(), len(report.rows), report.total.sent)
    return report


@task(name="publish-report", cache_policy=NO_CACHE)
def publish(report: Report) -> None:
    """The report as a markdown artifact and a table artifact in the Prefect UI."""
    where = report.filters.describe()
    create_markdown_artifact(markdown=markdown(report), key=ARTIFACT_KEY,
                             description=f"vivier nurturing report ({where})")
    create_table_artifact(table=table_rows(report), key=f"{ARTIFACT_KEY}-table",
                          description=f"Figures per cadence × segment × period ({where})")
    create_table_artifact(table=pool_rows(report), key=f"{ARTIFACT_KEY}-pools",
                          description=f"The privileged pool vs the rest, per cadence ({where})")
