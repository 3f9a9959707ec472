"""The report for people: Rich tables for the terminal, markdown and table rows for the Prefect UI."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from vivier.report.model import Counts, PeriodFigures, PoolFigures, Report

OPENS_NOTE = ("Opens (*) are unreliable: mail clients pre-fetch images, so a message can be "
              "'opened' by a machine. Read clicks and replies instead.")


def percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.1f}%"


def notes(report: Report) -> list[str]:
    """What a reader must know to read the figures right."""
    days = report.attribution_days
    found = [
        "Rates are shares of the messages sent. Eligible = messaged (any ledger status) + held out.",
        OPENS_NOTE,
        f"Applied / hired: the candidate applied (and was hired, for that application) within "
        f"{days} days after the message; an application counts for every message of those {days} days.",
        "Uplift = messaged rate − holdout rate, in percentage points, ± the 95% margin, over the "
        "periods and segments that had a holdout group; with fewer than 30 people on a side it is "
        "marked 'small group': do not read much into it. Holdout replies are any reply of theirs.",
        f"Unsubscribes from the preference centre count for the candidate's latest message of the "
        f"{days} days before.",
    ]
    found.append("Privileged vs the rest: whether the candidate was in the privileged pool when "
                 "the message (or the holdout decision) was planned; each pool's uplift is against "
                 "its own holdout group.")
    if any(row.window_open for row in report.rows):
        found.append(f"Periods marked † still have messages less than {days} days old: their "
                     "applications and hires are still coming in.")
    return found


def period_label(row: PeriodFigures) -> str:
    return row.period_key + (" †" if row.window_open else "")


def engagement_cells(counts: Counts) -> list[str]:
    share = counts.over_sent
    return [f"{counts.eligible:,}", f"{counts.sent:,}", percent(share(counts.delivered)),
            percent(share(counts.hard_bounced)), percent(share(counts.complained)),
            percent(share(counts.unsubscribed)), percent(share(counts.opened)),
            percent(share(counts.clicked)), percent(share(counts.replied))]


def outcome_cells(counts: Counts) -> list[str]:
    uplift = counts.apply_uplift
    return [f"{counts.sent:,}", f"{counts.applied:,} ({percent(counts.over_sent(counts.applied))})",
            f"{counts.hired:,}", f"{counts.holdout:,}",
            f"{counts.holdout_applied:,} ({percent(uplift.holdout_rate)})",
            uplift.label(), counts.reply_uplift.label()]


POOL = ("sent", "delivered", "clicks", "replies", "applied", "hired", "application uplift")


def pool_cells(counts: Counts) -> list[str]:
    """Privileged vs the rest: what the messages brought, and the uplift against the holdout."""
    share = counts.over_sent
    return [f"{counts.sent:,}", percent(share(counts.delivered)), percent(share(counts.clicked)),
            percent(share(counts.replied)),
            f"{counts.applied:,} ({percent(share(counts.applied))})", f"{counts.hired:,}",
            counts.apply_uplift.label()]


def pool_key(row: PoolFigures) -> list[str]:
    return [row.cadence, row.pool + (" †" if row.window_open else "")]


ENGAGEMENT = ("eligible", "sent", "delivered", "hard bounce", "complaint", "unsubscribe",
              "opens*", "clicks", "replies")
OUTCOMES = ("sent", "applied", "hired", "holdout", "holdout applied", "application uplift",
            "reply uplift")


def rich_tables(report: Report, detail: bool = True) -> Group:
    """Engagement, and outcomes against the holdout: per period (detail) or per cadence × segment."""
    title = f"Nurturing report — {report.filters.describe()}"
    if report.empty:
        return Group(Text(f"{title}: no messages or holdout decisions in this slice."))
    rows = report.rows if detail else report.by_segment
    scope = "per period" if detail else "per cadence and segment, all periods"
    engagement = Table("cadence", "segment", "period", *ENGAGEMENT, title=f"{title} — {scope}")
    outcomes = Table("cadence", "segment", "period", *OUTCOMES,
                     title=f"Outcomes within {report.attribution_days} days, against the holdout — {scope}")
    for table in (engagement, outcomes):
        for column in table.columns[3:]:
            column.justify = "right"
    for row in rows:
        engagement.add_row(row.cadence, row.segment, period_label(row), *engagement_cells(row.counts))
        outcomes.add_row(row.cadence, row.segment, period_label(row), *outcome_cells(row.counts))
    engagement.add_row("all", "", "", *engagement_cells(report.total), style="bold", end_section=True)
    outcomes.add_row("all", "", "", *outcome_cells(report.total), style="bold", end_section=True)
    pools = Table("cadence", "pool", *POOL, title="The privileged pool vs the rest, all periods")
    for column in pools.columns[2:]:
        column.justify = "right"
    for pool in report.by_pool:
        pools.add_row(*pool_key(pool), *pool_cells(pool.counts),
                      style="bold" if pool.cadence == "all" else None)
    return Group(engagement, outcomes, pools,
                 *(Text(f"• {note}", style="dim") for note in notes(report)))


def _markdown_table(header: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    return [f"| {' | '.join(header)} |", "|" + "---|" * 3 + "---:|" * (len(header) - 3),
            *(f"| {' | '.join(cells)} |" for cells in rows)]


def _markdown_pair(report: Report, rows: tuple[PeriodFigures, ...], scope: str) -> list[str]:
    keys = [[row.cadence, row.segment, period_label(row)] for row in rows] + [["**all**", "", ""]]
    counts = [row.counts for row in rows] + [report.total]
    lines = [f"## Deliverability and engagement — {scope}", ""]
    lines += _markdown_table(("cadence", "segment", "period", *ENGAGEMENT),
                             [key + engagement_cells(c) for key, c in zip(keys, counts, strict=True)])
    lines += ["", f"## Applications and hires within {report.attribution_days} days, "
                  f"against the holdout — {scope}", ""]
    lines += _markdown_table(("cadence", "segment", "period", *OUTCOMES),
                             [key + outcome_cells(c) for key, c in zip(keys, counts, strict=True)])
    return [*lines, ""]


def markdown(report: Report) -> str:
    """The Prefect markdown artifact: figures only, no candidate anywhere."""
    lines = [f"# Nurturing report — {report.filters.describe()}", "",
             f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC · attribution window "
             f"{report.attribution_days} days", ""]
    if report.empty:
        return "\n".join([*lines, "No messages or holdout decisions in this slice."])
    lines += _markdown_pair(report, report.by_segment, "per cadence and segment")
    lines += ["## The privileged pool vs the rest, all periods", "",
              f"| cadence | pool | {' | '.join(POOL)} |", "|---|---|" + "---:|" * len(POOL),
              *(f"| {' | '.join(pool_key(row) + pool_cells(row.counts))} |"
                for row in report.by_pool), ""]
    lines += _markdown_pair(report, report.rows, "per period")
    return "\n".join([*lines, *(f"- {note}" for note in notes(report))])


def _rounded(share: float | None) -> float | None:
    return None if share is None else round(100 * share, 2)


def pool_rows(report: Report) -> list[dict[str, Any]]:
    """The Prefect table artifact of privileged vs the rest: one row per cadence (and all) × pool."""
    return [{"cadence": row.cadence, "pool": row.pool,
             **{name: getattr(row.counts, name) for name in Counts.__dataclass_fields__},
             "applied_pct": _rounded(row.counts.over_sent(row.counts.applied)),
             "apply_uplift_pp": (None if row.counts.apply_uplift.points is None
                                 else round(row.counts.apply_uplift.points, 2)),
             "attribution_window_open": row.window_open} for row in report.by_pool]


def table_rows(report: Report) -> list[dict[str, Any]]:
    """The Prefect table artifact: one row per cadence × segment × period, counts and % rates."""
    rows = []
    for row in report.rows:
        counts, uplift = row.counts, row.counts.apply_uplift
        rows.append({
            "cadence": row.cadence, "segment": row.segment, "period": row.period_key,
            **{name: getattr(counts, name) for name in Counts.__dataclass_fields__},
            "delivered_pct": _rounded(counts.over_sent(counts.delivered)),
            "hard_bounce_pct": _rounded(counts.over_sent(counts.hard_bounced)),
            "complaint_pct": _rounded(counts.over_sent(counts.complained)),
            "unsubscribe_pct": _rounded(counts.over_sent(counts.unsubscribed)),
            "opened_pct_unreliable": _rounded(counts.over_sent(counts.opened)),
            "clicked_pct": _rounded(counts.over_sent(counts.clicked)),
            "replied_pct": _rounded(counts.over_sent(counts.replied)),
            "applied_pct": _rounded(counts.over_sent(counts.applied)),
            "holdout_applied_pct": _rounded(uplift.holdout_rate),
            "apply_uplift_pp": None if uplift.points is None else round(uplift.points, 2),
            "reply_uplift_pp": (None if row.counts.reply_uplift.points is None
                                else round(row.counts.reply_uplift.points, 2)),
            "attribution_window_open": row.window_open,
        })
    return rows
