"""The report's figures, computed in SQL: three grouped queries, never a loop over raw rows.

Counting rules (the README's "The nurturing report" says the same for people):
- a message is a `sends` row; *eligible* = messages of any status + the held-out candidates;
- delivered/opened/clicked/replied/complained are events tied to the message by `send_id`;
  a hard bounce is a `bounced` event with details type "hard";
- an `unsubscribed` event with no `send_id` (the preference centre's) counts for the
  candidate's latest message sent in the `attribution_days` before it, else for none;
- a message is *applied*/*hired* when its candidate applied (and was hired, for that
  application) within `attribution_days` after it was sent: one application counts for
  every message sent in the window before it;
- the holdout group is measured the same way from its `holdout` decision's time (the
  first one, real runs only), with replies counted by candidate since no message was sent;
- privileged vs the rest: whether the candidate was in the privileged pool when the message
  (or the holdout decision) was planned; the uplift of each pool over its own holdout.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from vivier.report.model import (
    PRIVILEGED,
    THE_REST,
    Counts,
    PeriodFigures,
    PoolFigures,
    Report,
    ReportFilters,
    TrendPoint,
    funnel_of,
)
from vivier.rules.cadences import CADENCES
from vivier.rules.segments import DEFAULT_SEGMENT
from vivier.store.schema import Application, Decision, Interaction, Send, utcnow

EVENT_FLAGS = ("delivered", "opened", "clicked", "replied", "complained", "unsubscribed")
Key = tuple[str, str, str]  # cadence, segment, period_key
PoolKey = tuple[str, str, str, bool]  # cadence, segment, period_key, privileged


def within(dialect: str, later: Any, earlier: Any, days: int) -> ColumnElement[bool]:
    """`later` falls in the `days` days that follow `earlier` (both ends included)."""
    if dialect == "sqlite":
        # SQLite keeps datetimes as text: Julian days read any fractional-second precision.
        return and_(func.julianday(later) >= func.julianday(earlier),
                    func.julianday(later) <= func.julianday(earlier) + days)
    return and_(later >= earlier, later <= earlier + literal_column(f"interval '{int(days)} days'"))


def _instant(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _flag(condition: ColumnElement[bool]) -> Any:
    return func.max(case((condition, 1), else_=0))


def _total(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0)


def _slice(filters: ReportFilters, zone: ZoneInfo, cadence: Any, segment: Any,
           moment: Any) -> list[ColumnElement[bool]]:
    """SQL conditions of the filters; dates are whole days in the team's time zone."""
    conditions: list[ColumnElement[bool]] = []
    if filters.cadence:
        conditions.append(cadence == filters.cadence)
    if filters.segment == DEFAULT_SEGMENT:
        conditions.append(or_(segment == DEFAULT_SEGMENT, segment.is_(None)))
    elif filters.segment:
        conditions.append(segment == filters.segment)
    if filters.since:
        conditions.append(moment >= _instant(filters.since, zone))
    if filters.until:
        conditions.append(moment < _instant(filters.until + timedelta(days=1), zone))
    return conditions


def messaged_counts(conn: Connection, filters: ReportFilters, days: int,
                    zone: ZoneInfo) -> list[dict[str, Any]]:
    """Per cadence × segment × period: messages, their events and the applications after them."""
    dialect = conn.dialect.name
    chosen = _slice(filters, zone, Send.cadence, Send.segment,
                    func.coalesce(Send.sent_at, Send.created_at))
    hard = and_(Interaction.kind == "bounced", Interaction.details["type"].as_string() == "hard")
    events = (
        select(Send.id.label("send_id"), _flag(hard).label("hard_bounced"),
               *(_flag(Interaction.kind == kind).label(kind) for kind in EVENT_FLAGS))
        .join(Interaction, Interaction.send_id == Send.id)
        .where(*chosen, Interaction.kind.in_((*EVENT_FLAGS, "bounced")))
        .group_by(Send.id).subquery("events")
    )
    unsubscribe, earlier = aliased(Interaction), aliased(Send)
    latest_before = (
        select(earlier.id)
        .where(earlier.candidate_id == unsubscribe.candidate_id, earlier.status == "sent",
               within(dialect, unsubscribe.occurred_at, earlier.sent_at, days))
        .order_by(earlier.sent_at.desc(), earlier.id.desc()).limit(1)
        .correlate(unsubscribe).scalar_subquery()
    )
    unlinked = (select(latest_before.label("send_id"))
                .where(unsubscribe.kind == "unsubscribed", unsubscribe.send_id.is_(None),
                       unsubscribe.candidate_id.is_not(None)).subquery("unlinked"))
    unsubscribed_after = (select(unlinked.c.send_id).where(unlinked.c.send_id.is_not(None))
                          .group_by(unlinked.c.send_id).subquery("unsubscribed_after"))
    applied = (
        select(Send.id.label("send_id"), _flag(Application.outcome == "hired").label("hired"))
        .join(Application, and_(Application.candidate_id == Send.candidate_id,
                                within(dialect, Application.applied_at, Send.sent_at, days)))
        .where(*chosen, Send.status == "sent")
        .group_by(Send.id).subquery("applied")
    )
    unsubscribed = or_(events.c.unsubscribed == 1, unsubscribed_after.c.send_id.is_not(None))
    query = (
        select(Send.cadence, Send.segment, Send.period_key, Send.privileged,
               func.count(Send.id).label("eligible"),
               _total(case((Send.status == "sent", 1), else_=0)).label("sent"),
               _total(events.c.hard_bounced).label("hard_bounced"),
               *(_total(events.c[kind]).label(kind) for kind in EVENT_FLAGS if kind != "unsubscribed"),
               _total(case((unsubscribed, 1), else_=0)).label("unsubscribed"),
               func.count(applied.c.send_id).label("applied"),
               _total(applied.c.hired).label("hired"),
               func.max(Send.sent_at).label("last_at"))
        .outerjoin(events, events.c.send_id == Send.id)
        .outerjoin(unsubscribed_after, unsubscribed_after.c.send_id == Send.id)
        .outerjoin(applied, applied.c.send_id == Send.id)
        .where(*chosen)
        .group_by(Send.cadence, Send.segment, Send.period_key, Send.privileged)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def holdout_counts(conn: Connection, filters: ReportFilters, days: int,
                   zone: ZoneInfo) -> list[dict[str, Any]]:
    """Per cadence × segment × period: the held-out candidates, and who replied/applied/was hired."""
    dialect = conn.dialect.name
    messaged = exists(select(Send.id).where(
        Send.candidate_id == Decision.candidate_id, Send.cadence == Decision.cadence,
        Send.period_key == Decision.period_key))
    held = (
        select(Decision.cadence, Decision.segment, Decision.period_key, Decision.candidate_id,
               func.min(Decision.decided_at).label("decided_at"),
               func.max(case((Decision.privileged, 1), else_=0)).label("privileged"))
        .where(Decision.reason == "holdout", Decision.dry_run.is_(False), ~messaged,
               *_slice(filters, zone, Decision.cadence, Decision.segment, Decision.decided_at))
        .group_by(Decision.cadence, Decision.segment, Decision.period_key, Decision.candidate_id)
        .subquery("held")
    )
    replied = exists(select(Interaction.id).where(
        Interaction.candidate_id == held.c.candidate_id, Interaction.kind == "replied",
        within(dialect, Interaction.occurred_at, held.c.decided_at, days)))
    applications = [Application.candidate_id == held.c.candidate_id,
                    within(dialect, Application.applied_at, held.c.decided_at, days)]
    applied = exists(select(Application.id).where(*applications))
    hired = exists(select(Application.id).where(*applications, Application.outcome == "hired"))
    query = (
        select(held.c.cadence, held.c.segment, held.c.period_key, held.c.privileged,
               func.count().label("holdout"),
               _total(case((replied, 1), else_=0)).label("holdout_replied"),
               _total(case((applied, 1), else_=0)).label("holdout_applied"),
               _total(case((hired, 1), else_=0)).label("holdout_hired"),
               func.max(held.c.decided_at).label("last_at"))
        .group_by(held.c.cadence, held.c.segment, held.c.period_key, held.c.privileged)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def _merge(rows: Iterable[dict[str, Any]], counts: dict[PoolKey, Counts],
           last: dict[PoolKey, datetime]) -> None:
    names = set(Counts.__dataclass_fields__)
    for row in rows:
        key = (row["cadence"], row["segment"] or DEFAULT_SEGMENT, row["period_key"],
               bool(row["privileged"]))
        values = {name: int(value) for name, value in row.items() if name in names}
        counts[key] = counts.get(key, Counts()) + Counts(**values)
        if row["last_at"] is not None:
            last[key] = max(last.get(key, row["last_at"]), row["last_at"])


def _rank(cadence: str) -> int:
    names = list(CADENCES)
    return names.index(cadence) if cadence in names else len(names)


def build_report(engine: Engine, filters: ReportFilters, attribution_days: int, zone: ZoneInfo,
                 now: datetime | None = None) -> Report:
    """The nurturing report for the filtered slice of history."""
    now = now or utcnow()
    by_pool: dict[PoolKey, Counts] = {}
    last_by_pool: dict[PoolKey, datetime] = {}
    with engine.connect() as conn:
        _merge(messaged_counts(conn, filters, attribution_days, zone), by_pool, last_by_pool)
        _merge(holdout_counts(conn, filters, attribution_days, zone), by_pool, last_by_pool)
    counts: dict[Key, Counts] = defaultdict(Counts)
    last: dict[Key, datetime] = {}
    for (cadence, segment, period, _), value in by_pool.items():
        counts[(cadence, segment, period)] += value
    for (cadence, segment, period, _), at in last_by_pool.items():
        last[(cadence, segment, period)] = max(last.get((cadence, segment, period), at), at)
    counts = {key: value.settled() for key, value in counts.items()}
    still_open = {key for key, at in last.items() if at + timedelta(days=attribution_days) > now}
    ordered = sorted(counts, key=lambda key: (_rank(key[0]), key[1], key[2]))
    rows = tuple(PeriodFigures(*key, counts[key], key in still_open) for key in ordered)

    periods: dict[tuple[str, str], Counts] = defaultdict(Counts)
    segments: dict[str, Counts] = defaultdict(Counts)
    spans: dict[tuple[str, str], list[PeriodFigures]] = defaultdict(list)
    total = Counts()
    for row in rows:
        periods[(row.cadence, row.period_key)] += row.counts
        segments[row.segment] += row.counts
        spans[(row.cadence, row.segment)].append(row)
        total += row.counts
    by_segment = tuple(
        PeriodFigures(cadence, segment, _span(found), sum((r.counts for r in found), Counts()),
                      any(r.window_open for r in found))
        for (cadence, segment), found in spans.items())
    open_periods = {(row.cadence, row.period_key) for row in rows if row.window_open}
    trend = tuple(TrendPoint(cadence, period, periods[(cadence, period)], (cadence, period) in open_periods)
                  for cadence, period in sorted(periods, key=lambda key: (_rank(key[0]), key[1])))
    funnels = tuple(funnel_of(name, value) for name, value in sorted(segments.items()))
    pools = _pools(by_pool, {key for key, at in last_by_pool.items()
                             if at + timedelta(days=attribution_days) > now})
    return Report(filters, attribution_days, now, rows, by_segment, trend, funnels, total, pools)


def _pools(by_pool: dict[PoolKey, Counts], still_open: set[PoolKey]) -> tuple[PoolFigures, ...]:
    """Privileged vs the rest per cadence, then over all cadences; each pool's uplift is
    measured over the periods where that pool itself had a holdout group."""
    sums: dict[tuple[str, bool], Counts] = defaultdict(Counts)
    opened: set[tuple[str, bool]] = set()
    for key, value in by_pool.items():
        cadence, privileged = key[0], key[3]
        for scope in ((cadence, privileged), ("all", privileged)):
            sums[scope] += value.settled()
            if key in still_open:
                opened.add(scope)
    order = sorted(sums, key=lambda scope: (scope[0] == "all", _rank(scope[0]), not scope[1]))
    return tuple(PoolFigures(cadence, PRIVILEGED if privileged else THE_REST,
                             sums[(cadence, privileged)], (cadence, privileged) in opened)
                 for cadence, privileged in order)


def _span(rows: list[PeriodFigures]) -> str:
    first, last = rows[0].period_key, rows[-1].period_key
    return first if first == last else f"{first} … {last}"
