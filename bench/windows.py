"""What the send windows cost planning: `not_before` (zone, window, holidays) against the whole plan.

    python -m bench.windows                  # 20,000 demo candidates on SQLite
    BENCH_N=100000 python -m bench.windows   # a larger pool

Seeds the demo pool (French, British and Canadian candidates, every place of the vocabulary) in
a SQLite file, then plans the weekly period on fresh copies of it, alternately with the send
windows and with `Timing` replaced by a stub that gives every row the same slot (what planning
cost before), five times each; the plans are the pipeline's own `plan_batch` (extract, Great
Expectations, policy, render, ledger write). On a shared machine the end-to-end difference is
within the noise, so it also times the per-candidate work alone over the pool's rows: `Timing.slot`
(zone, window, holidays) plus the message context's zone. Prints the median plan of each kind
and those shares of plan time, and writes `bench/results/windows-<N>.md`. The bound: at most 5%.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import great_expectations  # noqa: F401  (imported once, before any timing)

from demo.seed import seed_demo
from vivier.pipeline import extract, plan, timing
from vivier.pipeline.resources import Resources
from vivier.pipeline.run import open_spec
from vivier.rules.cadences import period_key, period_start
from vivier.rules.zones import candidate_zone
from vivier.settings import load_settings
from vivier.store import db

MONDAY = date(2026, 11, 23)
CLOCK = datetime(2026, 11, 23, 9, tzinfo=ZoneInfo("Europe/Paris"))
REPEATS = 5


class _SameSlot(timing.Timing):
    """Planning without send windows: one slot for every row, nothing computed per candidate."""

    def __init__(self, settings: Any, spec: Any) -> None:
        self.moment = spec.send_clock
        self.fixed = timing.Slot(self.moment, self.moment + timedelta(days=6), "Europe/Paris")

    def slot(self, candidate: dict[str, Any]) -> timing.Slot:
        return self.fixed


def plan_seconds(seeded: Path, workdir: Path, windows: bool) -> float:
    """Plan the weekly period of a fresh copy of the pool; the plan phase's wall time."""
    copy = workdir / f"plan-{'with' if windows else 'without'}-{time.monotonic_ns()}.db"
    shutil.copy(seeded, copy)
    url = f"sqlite:///{copy}"
    settings = load_settings(database_url=url, transport="none", batch_size=10_000, samples_dir=workdir / "s",
                             secret_key="bench-secret-key-of-32-bytes-at-least")
    resources = Resources.build(settings)
    plan.Timing = timing.Timing if windows else _SameSlot  # type: ignore[misc]
    key = period_key("weekly", MONDAY)
    spec = open_spec(resources, "weekly", key, period_start("weekly", key), MONDAY, False, clock=CLOCK)
    with resources.engine.connect() as conn:
        bounds = extract.batch_bounds(conn, "weekly", settings.batch_size)
    started = time.perf_counter()
    planned = sum(plan.plan_batch(resources, spec, lo, hi).stages["planned"] for lo, hi in bounds)
    seconds = time.perf_counter() - started
    resources.engine.dispose()
    copy.unlink()
    assert planned > 0, "nothing planned: the bench measures nothing"
    return seconds


def slot_seconds(seeded: Path) -> tuple[float, int]:
    """`Timing.slot` alone over every candidate of the pool (a fresh Timing per batch, as planning)."""
    settings = load_settings(database_url=f"sqlite:///{seeded}",
                             secret_key="bench-secret-key-of-32-bytes-at-least")
    resources = Resources.build(settings)
    key = period_key("weekly", MONDAY)
    spec = open_spec(resources, "weekly", key, period_start("weekly", key), MONDAY, True, clock=CLOCK)
    with resources.engine.connect() as conn:
        rows = extract.read_batch(conn, "weekly", 0, 10**12)
    started = time.perf_counter()
    for first in range(0, len(rows), settings.batch_size):
        windows = timing.Timing(settings, spec)
        for row in rows[first:first + settings.batch_size]:
            windows.slot(row)
            candidate_zone(row, settings.team_timezone)  # render_context's `zone`, once per message
    return time.perf_counter() - started, len(rows)


def main() -> None:
    n = int(os.environ.get("BENCH_N", "20000"))
    with tempfile.TemporaryDirectory(prefix="vivier-windows-") as folder:
        workdir = Path(folder)
        seeded = workdir / "seeded.db"
        db.upgrade(f"sqlite:///{seeded}")
        engine = db.engine_for(f"sqlite:///{seeded}")
        seed_demo(engine, n, 42, MONDAY, ZoneInfo("Europe/Paris"))
        engine.dispose()
        plan_seconds(seeded, workdir, True)  # warm-up: Great Expectations' first validation
        runs: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(REPEATS):
            for windows in (False, True):
                runs[windows].append(plan_seconds(seeded, workdir, windows))
        slots, rows = slot_seconds(seeded)
    with_windows, without = statistics.median(runs[True]), statistics.median(runs[False])
    lines = [
        f"# Send windows: planning cost ({n:,} demo candidates, SQLite, {datetime.now(UTC):%Y-%m-%d})",
        "",
        "| measure | seconds |", "|---|---:|",
        f"| plan, without windows (median of {REPEATS}) | {without:.2f} |",
        f"| plan, with windows (median of {REPEATS}) | {with_windows:.2f} |",
        f"| zone + window + holidays alone, {rows:,} weekly candidates | {slots:.3f} |",
        "",
        f"- windows' share of plan time, end to end: {(with_windows - without) / with_windows:+.1%} "
        f"(runs: with {', '.join(f'{s:.2f}' for s in runs[True])}; "
        f"without {', '.join(f'{s:.2f}' for s in runs[False])})",
        f"- zone + window + holidays alone: {slots / with_windows:.2%} of the plan "
        f"({1e6 * slots / max(rows, 1):.1f} µs per candidate, against "
        f"{1e6 * with_windows / max(rows, 1):.0f} µs of planning). Bound: 5%.",
    ]
    report = "\n".join(lines)
    print(report)
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / f"windows-{n}.md").write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
