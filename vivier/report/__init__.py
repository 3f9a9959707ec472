"""The nurturing report: what each cadence and segment brings, against the holdout group."""

from vivier.report.figures import build_report
from vivier.report.model import Counts, Funnel, PeriodFigures, Report, ReportFilters, TrendPoint, Uplift

__all__ = ["Counts", "Funnel", "PeriodFigures", "Report", "ReportFilters", "TrendPoint", "Uplift",
           "build_report"]
