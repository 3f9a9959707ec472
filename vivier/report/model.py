"""What the nurturing report says, as typed values: counts, the rates over sent, the holdout uplift."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from datetime import date, datetime

# Below this many people on either side, the uplift is shown but marked as too small to read.
SMALL_GROUP = 30


@dataclass(frozen=True)
class ReportFilters:
    """The slice of history a report covers; None means no limit."""

    since: date | None = None
    until: date | None = None
    cadence: str | None = None
    segment: str | None = None

    def describe(self) -> str:
        parts = [f"since {self.since}" if self.since else "", f"until {self.until}" if self.until else "",
                 f"cadence {self.cadence}" if self.cadence else "",
                 f"segment {self.segment}" if self.segment else ""]
        return ", ".join(part for part in parts if part) or "all history"


@dataclass(frozen=True)
class Counts:
    """Additive counts of messages (one per send) and of the holdout group (one per candidate)."""

    eligible: int = 0  # messaged (any ledger status) + held out, once settled
    sent: int = 0
    delivered: int = 0
    hard_bounced: int = 0
    complained: int = 0
    unsubscribed: int = 0
    opened: int = 0  # unreliable: mail clients pre-fetch images
    clicked: int = 0
    replied: int = 0
    applied: int = 0  # messages followed by an application within the attribution window
    hired: int = 0
    holdout: int = 0
    holdout_replied: int = 0
    holdout_applied: int = 0
    holdout_hired: int = 0
    # The messaged side of the uplift: only periods and segments that had a holdout group.
    compared_sent: int = 0
    compared_replied: int = 0
    compared_applied: int = 0

    def settled(self) -> Counts:
        """One cadence × segment × period's counts once both groups are in: eligible, compared."""
        compared = self.holdout > 0
        return replace(self, eligible=self.eligible + self.holdout,
                       compared_sent=self.sent if compared else 0,
                       compared_replied=self.replied if compared else 0,
                       compared_applied=self.applied if compared else 0)

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def over_sent(self, count: int) -> float | None:
        """`count` as a share of the messages sent (None when nothing was sent)."""
        return count / self.sent if self.sent else None

    def over_holdout(self, count: int) -> float | None:
        return count / self.holdout if self.holdout else None

    @property
    def apply_uplift(self) -> Uplift:
        return Uplift.of(self.compared_applied, self.compared_sent, self.holdout_applied, self.holdout)

    @property
    def reply_uplift(self) -> Uplift:
        return Uplift.of(self.compared_replied, self.compared_sent, self.holdout_replied, self.holdout)


@dataclass(frozen=True)
class Uplift:
    """Messaged rate minus holdout rate, in percentage points, with both group sizes."""

    messaged_rate: float | None
    holdout_rate: float | None
    messaged: int
    held_out: int
    points: float | None  # None when either group is empty
    margin: float | None  # half-width of the 95% interval, in points (normal approximation)

    @classmethod
    def of(cls, messaged_hits: int, messaged: int, holdout_hits: int, held_out: int) -> Uplift:
        if not messaged or not held_out:
            return cls(messaged_hits / messaged if messaged else None,
                       holdout_hits / held_out if held_out else None, messaged, held_out, None, None)
        p1, p2 = messaged_hits / messaged, holdout_hits / held_out
        margin = 1.96 * math.sqrt(p1 * (1 - p1) / messaged + p2 * (1 - p2) / held_out)
        return cls(p1, p2, messaged, held_out, 100 * (p1 - p2), 100 * margin)

    @property
    def small(self) -> bool:
        return min(self.messaged, self.held_out) < SMALL_GROUP

    def label(self) -> str:
        if self.points is None:
            return "no holdout" if not self.held_out else "—"
        text = f"{self.points:+.1f} pp ± {self.margin or 0:.1f}"
        return text + " (small group)" if self.small else text


@dataclass(frozen=True)
class PeriodFigures:
    """One cadence × segment × period of the report."""

    cadence: str
    segment: str
    period_key: str
    counts: Counts
    window_open: bool  # the attribution window of some message has not closed yet


PRIVILEGED, THE_REST = "privileged", "the rest"


@dataclass(frozen=True)
class PoolFigures:
    """The privileged pool or the rest, for one cadence (or "all") over every period."""

    cadence: str
    pool: str  # PRIVILEGED or THE_REST
    counts: Counts
    window_open: bool


@dataclass(frozen=True)
class TrendPoint:
    """One cadence and period, all segments together."""

    cadence: str
    period_key: str
    counts: Counts
    window_open: bool


@dataclass(frozen=True)
class FunnelStep:
    label: str
    count: int
    share: float | None  # of the funnel's first step (eligible)


@dataclass(frozen=True)
class Funnel:
    """Eligible → sent → delivered → clicked → replied → applied → hired, for one segment."""

    segment: str
    steps: tuple[FunnelStep, ...]


FUNNEL_STEPS = (("eligible", "eligible"), ("sent", "sent"), ("delivered", "delivered"),
                ("clicked", "clicked"), ("replied", "replied"), ("applied", "applied"),
                ("hired", "hired"))


def funnel_of(segment: str, counts: Counts) -> Funnel:
    steps = tuple(FunnelStep(label, getattr(counts, name),
                             getattr(counts, name) / counts.eligible if counts.eligible else None)
                  for label, name in FUNNEL_STEPS)
    return Funnel(segment, steps)


@dataclass(frozen=True)
class Report:
    """The nurturing report: figures per cadence × segment × period, the trend and the funnels."""

    filters: ReportFilters
    attribution_days: int
    generated_at: datetime
    rows: tuple[PeriodFigures, ...]
    by_segment: tuple[PeriodFigures, ...]  # cadence × segment over every period (period_key: the span)
    trend: tuple[TrendPoint, ...]
    funnels: tuple[Funnel, ...]
    total: Counts
    by_pool: tuple[PoolFigures, ...] = ()  # per cadence, then "all": privileged vs the rest

    @property
    def empty(self) -> bool:
        return not self.rows
