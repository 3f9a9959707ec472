"""The benchmark's figures: checked against the issue's targets, printed, written as JSON + markdown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).parent / "results"


def targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 17 with the measured value and whether it is met."""
    ref = figures["reference"]
    sizes = figures["sizes"]
    top = sizes[str(ref)]
    checks = [
        ("pipeline ≤ 1.15× bare loop (work s; same transport, one connection)", top["ratio_work"],
         1.15, "≤"),
        ("≥ 1,500 msg/s to the sink (pipeline, deliver phase)",
         top["pipeline"]["deliver_messages_per_second"] or 0.0, 1500, "≥"),
        ("≥ 1,000 msg/s to the sink (pipeline, whole run, plan included)",
         top["pipeline"]["messages_per_second"], 1000, "≥"),
        ("rerun of a completed period ≤ 5% of the first run",
         figures["rerun"]["share_of_first_run"], 0.05, "≤"),
        (f"dry run of {ref:,} ≤ 10 s (work s)", figures["dry_run"]["work_seconds"], 10.0, "≤"),
    ]
    if figures.get("dask"):
        checks.append(("Dask runner, warm workers ≥ thread runner (msg/s, whole run)",
                       figures["dask"]["messages_per_second"] / top["pipeline"]["messages_per_second"],
                       1.0, "≥"))
    largest = max(int(size) for size in sizes)
    if largest >= 1_000_000 and "100000" in sizes:
        peak_1m = sizes[str(largest)]["pipeline"]["peak_rss_mb"]
        peak_100k = sizes["100000"]["pipeline"]["peak_rss_mb"]
        checks += [("peak RSS at 1M ≤ 1.2× the 100k peak", peak_1m / peak_100k, 1.2, "≤"),
                   ("peak RSS at 1M < 500 MB", peak_1m, 500, "<")]
    rows = []
    for name, value, limit, sense in checks:
        met = {"≤": value <= limit, "≥": value >= limit, "<": value < limit}[sense]
        rows.append({"target": name, "value": round(value, 3), "limit": limit, "met": met})
    return rows


def table(figures: dict[str, Any]) -> str:
    """The figures as markdown: one row per size and pipeline, then the targets."""
    lines = [
        "| candidates | run | process wall s | import s | work s | plan s | deliver s | sent | "
        "msg/s (work) | deliver msg/s | peak RSS MB (tree) | ratio work | ratio wall |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, one in sorted(figures["sizes"].items(), key=lambda item: int(item[0])):
        for name in ("pipeline", "bare"):
            run = one[name]
            deliver = run.get("deliver_messages_per_second")
            ratios = (f"{one['ratio_work']:.2f} | {one['ratio_wall']:.2f}" if name == "pipeline"
                      else " | ")
            phases = (f"{run.get('plan_seconds', 0):.1f} | {run.get('deliver_seconds', 0):.1f}"
                      if name == "pipeline" else "– | –")
            lines.append(
                f"| {int(size):,} | {name} | {run['wall_seconds']:.1f} | {run['import_seconds']:.1f} | "
                f"{run['work_seconds']:.1f} | {phases} | {run['sent']:,} | "
                f"{run['messages_per_second']:,.0f} | {f'{deliver:,.0f}' if deliver else '–'} | "
                f"{run['peak_rss_mb']:.0f} | {ratios} |"
            )
    rerun, dry = figures["rerun"], figures["dry_run"]
    lines += ["", *parallel_lines(figures)]
    if dask := figures.get("dask"):
        deliver = dask.get("deliver_messages_per_second")
        lines.append(f"- Dask runner, {dask['workers']} warm workers: {dask['work_seconds']:.1f} s work, "
                     f"{dask['messages_per_second']:,.0f} msg/s whole run, "
                     f"{f'{deliver:,.0f}' if deliver else '–'} msg/s deliver phase, {dask['sent']:,} sent")
    lines += [
        f"- rerun of the completed period: {rerun['wall_seconds']:.1f} s process "
        f"({rerun['work_seconds']:.1f} s work), {rerun['share_of_first_run']:.1%} of the first run",
        f"- dry run of {figures['reference']:,}: {dry['wall_seconds']:.1f} s process "
        f"({dry['work_seconds']:.1f} s work), {dry['planned']:,} planned",
        f"- growth: {figures['growth']}",
        "",
        "| target | measured | limit | met |",
        "|---|---:|---:|:---:|",
    ]
    for row in figures["targets"]:
        lines.append(f"| {row['target']} | {row['value']} | {row['limit']} | "
                     f"{'yes' if row['met'] else '**no**'} |")
    return "\n".join(lines)


def parallel_lines(figures: dict[str, Any]) -> list[str]:
    """The pipeline's parallel gain, apart from the ratio: the bare loop on N connections."""
    top = figures["sizes"][str(figures["reference"])]
    wide = top.get("bare_parallel")
    if not wide:
        return []
    one, pipeline = top["bare"]["work_seconds"], top["pipeline"]["work_seconds"]
    gain = one / wide["work_seconds"]
    return [f"- parallel gain at {figures['reference']:,}: the bare loop on {wide['connections']} "
            f"connections (threads) takes {wide['work_seconds']:.1f} s work, ×{gain:.2f} "
            f"its one-connection {one:.1f} s; the pipeline ({pipeline:.1f} s) is ×{one / pipeline:.2f} "
            "the one-connection loop"]


def growth(figures: dict[str, Any]) -> str:
    """'10k → 100k: wall ×9.8, RSS ×1.05' across the measured sizes (pipeline)."""
    ordered = sorted(figures["sizes"].items(), key=lambda item: int(item[0]))
    steps = []
    for (small, low), (large, high) in zip(ordered, ordered[1:], strict=False):
        a, b = low["pipeline"], high["pipeline"]
        steps.append(f"{_short(small)} → {_short(large)}: work ×{b['work_seconds'] / a['work_seconds']:.1f}, "
                     f"sent ×{b['sent'] / max(a['sent'], 1):.1f}, "
                     f"peak RSS ×{b['peak_rss_mb'] / a['peak_rss_mb']:.2f} "
                     f"({a['peak_rss_mb']:.0f} → {b['peak_rss_mb']:.0f} MB)")
    return "; ".join(steps) or "one size only"


def _short(size: str) -> str:
    number = int(size)
    return f"{number // 1_000_000}M" if number >= 1_000_000 else f"{number // 1000}k"


def write(figures: dict[str, Any], notes: str) -> tuple[Path, Path]:
    """bench/results/bench-<N>.json and .md (the latest run of that size)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    tuned = "".join(f"-{key.removeprefix('VIVIER_').lower()}{value}"
                    for key, value in figures.get("tuning", {}).items())
    stem = RESULTS_DIR / f"bench-{figures['n']}{tuned}"
    stem.with_suffix(".json").write_text(json.dumps(figures, indent=2, default=str) + "\n")
    tuning = ", ".join(f"{key}={value}" for key, value in figures.get("tuning", {}).items())
    markdown = (f"# vivier bench, N = {figures['n']:,}{f' ({tuning})' if tuning else ''}\n\n"
                f"{notes}\n\n{table(figures)}\n")
    if figures.get("profile_markdown"):
        markdown += "\n## Profile (py-spy)\n\n" + figures["profile_markdown"] + "\n"
    stem.with_suffix(".md").write_text(markdown)
    return stem.with_suffix(".json"), stem.with_suffix(".md")
