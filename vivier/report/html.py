"""The report as one self-contained HTML file: inline CSS and SVG charts, nothing fetched."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from vivier.report.charts import funnel_chart, trend_chart
from vivier.report.model import Counts, PeriodFigures, Report
from vivier.report.render import (
    ENGAGEMENT,
    OUTCOMES,
    POOL,
    engagement_cells,
    notes,
    outcome_cells,
    percent,
    period_label,
    pool_cells,
    pool_key,
)
from vivier.store.files import replace_page

REPORT_TITLE = "vivier — nurturing report".encode()


def _cells(rows: Sequence[PeriodFigures], total: Counts) -> list[tuple[list[str], list[str], list[str]]]:
    """(key, engagement, outcomes) cells per row, then the total row."""
    cells = [([row.cadence, row.segment, period_label(row)], engagement_cells(row.counts),
              outcome_cells(row.counts)) for row in rows]
    return [*cells, (["all", "", ""], engagement_cells(total), outcome_cells(total))]


def page_environment(templates_dir: Path) -> Environment:
    """The team pages' Jinja environment (report, preview, timeline): `templates/`, autoescaped,
    strict; each page extends `report/base.html`."""
    return Environment(loader=FileSystemLoader(Path(templates_dir)),
                       autoescape=select_autoescape(default=True), undefined=StrictUndefined)


def render_html(report: Report, templates_dir: Path) -> str:
    """The report page, from `templates/report/report.html` (autoescaped)."""
    environment = page_environment(templates_dir)
    trends = [(cadence, trend_chart(cadence, list(points)))
              for cadence, points in groupby(report.trend, key=lambda point: point.cadence)]
    total = report.total
    headline = [
        ("messages sent", f"{total.sent:,}"),
        ("delivered", percent(total.over_sent(total.delivered))),
        ("clicked", percent(total.over_sent(total.clicked))),
        ("replied", percent(total.over_sent(total.replied))),
        (f"applied within {report.attribution_days} days", f"{total.applied:,}"),
        ("hired", f"{total.hired:,}"),
        ("application uplift vs holdout", total.apply_uplift.label()),
    ]
    tables = [("per cadence and segment", _cells(report.by_segment, total)),
              ("per period", _cells(report.rows, total))]
    return environment.get_template("report/report.html").render(
        report=report, headline=headline, trends=trends,
        funnels=[(funnel.segment, funnel_chart(funnel)) for funnel in report.funnels],
        engagement_header=ENGAGEMENT, outcome_header=OUTCOMES, tables=tables, notes=notes(report),
        pool_header=POOL, pools=[(pool_key(row), pool_cells(row.counts)) for row in report.by_pool],
    )


def write_html(report: Report, path: Path, templates_dir: Path) -> Path:
    """Write the report page to `path` (its folder is created) and return the path.

    OutputProblem for a folder, a symbolic link, or an existing file that is not a report
    this function wrote (a typo must never replace the database or anything else).
    """
    page = render_html(report, templates_dir).encode("utf-8")
    # Figures only, no personal data: readable by the team's other accounts.
    return replace_page(Path(path), page, REPORT_TITLE, "HTML report", private=False)
