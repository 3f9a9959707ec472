"""The report's charts as inline SVG strings: no plotting library, no file, no network."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

from vivier.report.model import Funnel, TrendPoint

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 150, 30, 44
# Colour-blind-safe (Okabe–Ito); the holdout line is dashed as well as coloured.
SERIES = (
    ("clicks", "#0072B2", ""),
    ("replies", "#009E73", ""),
    ("applied", "#D55E00", ""),
    ("holdout applied", "#777777", "6 4"),
)


def _ceiling(value: float) -> float:
    """A round top for the y axis (1, 2, 5 × 10^n percent)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _rates(point: TrendPoint) -> list[float | None]:
    counts = point.counts
    shares = [counts.over_sent(counts.clicked), counts.over_sent(counts.replied),
              counts.over_sent(counts.applied), counts.over_holdout(counts.holdout_applied)]
    return [None if share is None else 100 * share for share in shares]


def trend_chart(cadence: str, points: Sequence[TrendPoint]) -> Markup:
    """Click, reply and application rates per period of one cadence, and the holdout's."""
    rates = [_rates(point) for point in points]
    top = _ceiling(max((r for row in rates for r in row if r is not None), default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(points) - 1, 1)

    def x(index: int) -> float:
        return LEFT + (index * step if len(points) > 1 else plot_w / 2)

    def y(rate: float) -> float:
        return TOP + plot_h * (1 - rate / top)

    title = f"{cadence}: rates per period (% of messages sent)"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart trend" role="img" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for tick in range(6):
        rate = top * tick / 5
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(rate):.1f}" y2="{y(rate):.1f}" '
                     f'class="grid"/><text x="{LEFT - 6}" y="{y(rate) + 4:.1f}" class="tick" '
                     f'text-anchor="end">{rate:g}%</text>')
    every = max(1, math.ceil(len(points) / 8))  # at most ~8 period labels
    for index, point in enumerate(points):
        if index % every == 0 or index == len(points) - 1:
            label = point.period_key + (" †" if point.window_open else "")
            parts.append(f'<text x="{x(index):.1f}" y="{TOP + plot_h + 18}" class="tick" '
                         f'text-anchor="middle">{escape(label)}</text>')
    for series, (name, colour, dash) in enumerate(SERIES):
        coords = [(x(i), y(row[series] or 0.0)) for i, row in enumerate(rates) if row[series] is not None]
        if not coords:
            continue
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"'
                     f'{dashes}/>')
        parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>' for px, py in coords]
        legend_y = TOP + 8 + 20 * series
        parts.append(f'<line x1="{WIDTH - RIGHT + 14}" x2="{WIDTH - RIGHT + 38}" y1="{legend_y}" '
                     f'y2="{legend_y}" stroke="{colour}" stroke-width="2.5"{dashes}/>'
                     f'<text x="{WIDTH - RIGHT + 44}" y="{legend_y + 4}" class="legend">{name}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def funnel_chart(funnel: Funnel) -> Markup:
    """Horizontal bars from eligible to hired for one segment, with counts and shares."""
    bar_h, gap, label_w, width = 26, 8, 90, WIDTH
    height = TOP + len(funnel.steps) * (bar_h + gap)
    largest = max((step.count for step in funnel.steps), default=0) or 1
    span = width - label_w - 150
    title = f"segment {funnel.segment}: from eligible to hired"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart funnel" role="img" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for index, step in enumerate(funnel.steps):
        top = TOP // 2 + index * (bar_h + gap)
        length = max(2.0, span * step.count / largest)
        share = "" if step.share is None else f" · {100 * step.share:.1f}%"
        parts.append(
            f'<text x="{label_w - 8}" y="{top + bar_h / 2 + 5}" class="tick" text-anchor="end">'
            f'{escape(step.label)}</text>'
            f'<rect x="{label_w}" y="{top}" width="{length:.1f}" height="{bar_h}" rx="3" '
            f'class="bar step-{index}"/>'
            f'<text x="{label_w + length + 8:.1f}" y="{top + bar_h / 2 + 5}" class="legend">'
            f'{step.count:,}{share}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
