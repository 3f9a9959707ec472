"""The `report` flow: what each cadence and segment brings, against the holdout, in the Prefect UI.

Weekly (deployment `report`, Monday 08:00 before the weekly run). Read-only: rerun it any time.
"""

from __future__ import annotations

from datetime import date

from prefect import flow
from prefect.runtime import flow_run

from tasks.report import compute, publish
from vivier.report import ReportFilters
from vivier.store.schema import utcnow


def _run_name() -> str:
    moment = flow_run.scheduled_start_time or utcnow()
    return f"report-{str(moment)[:10]}"


@flow(name="report", flow_run_name=_run_name, log_prints=False)
def report(
    since: date | None = None,
    until: date | None = None,
    cadence: str | None = None,
    segment: str | None = None,
) -> dict:
    """Publish the nurturing report (markdown + table artifacts) for the chosen slice of history."""
    filters = ReportFilters(since=since, until=until, cadence=cadence, segment=segment)
    figures = compute(filters)
    publish(figures)
    total = figures.total
    return {"flow_run_id": flow_run.id, "filters": filters.describe(), "rows": len(figures.rows),
            "sent": total.sent, "applied": total.applied, "hired": total.hired,
            "holdout": total.holdout}
