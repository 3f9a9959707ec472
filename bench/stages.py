"""Time every stage of the pipeline's own code, in-process and without Prefect or sampling.

Wraps the stage functions that `vivier.pipeline.plan.plan_batch` and `vivier.pipeline.deliver.deliver_batch`
call (the code the Prefect tasks run), runs the whole plan and deliver of the weekly pool on one
thread, then reruns the completed period's plan as a rerun does (incrementally), and prints wall
and CPU seconds and µs per sent message for each stage.

    python -m bench.stages 2026-11-23          # settings (database, SMTP sink) from VIVIER_*
"""

from __future__ import annotations

import functools
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

import great_expectations  # noqa: F401  (data_checks imports it on first use: not a stage's time)

from bench.measure import report
from vivier.ledger import moves as ledger_moves
from vivier.pipeline import deliver as delivery
from vivier.pipeline import extract, incremental
from vivier.pipeline import plan as planning
from vivier.pipeline import run as steps
from vivier.pipeline.resources import Resources
from vivier.rules.cadences import period_key, period_start
from vivier.settings import get_settings
from vivier.store import db
from vivier.store.bulk import refresh_statistics

SPENT: dict[str, float] = defaultdict(float)  # wall seconds per stage
CPU: dict[str, float] = defaultdict(float)  # this thread's CPU seconds per stage (no waiting)
WRAPPED = {  # module -> names it calls, each timed as "module.name"
    planning: ("render_context", "exclusion", "write_plan", "_frame",
               "email_hash"),
    delivery: ("render_context", "outgoing", "build_mime", "_record"),
    ledger_moves: ("claim",),  # plan, withdraw and record are inside write_plan and _record
    extract: ("read_batch", "latest_consents", "ledger", "first_holders", "suppressed",
              "read_candidates"),
}


def timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            SPENT[label] += time.perf_counter() - started
            CPU[label] += time.thread_time() - cpu

    return wrapper


def instrument() -> None:
    for module, names in WRAPPED.items():
        short = module.__name__.rsplit(".", 1)[-1]
        for name in names:
            setattr(module, name, timed(f"{short}.{name}", getattr(module, name)))


def by_phase(before: tuple[dict[str, float], dict[str, float]], phase: str
             ) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds per stage since `before` was taken, labelled with the phase."""
    wall, cpu = before
    return {f"{phase}: {label}": (seconds - wall.get(label, 0.0), CPU[label] - cpu.get(label, 0.0))
            for label, seconds in SPENT.items() if seconds - wall.get(label, 0.0) > 0}


def snapshot() -> tuple[dict[str, float], dict[str, float]]:
    return dict(SPENT), dict(CPU)


class Phase:
    """Wall and CPU seconds of one phase of the run (this thread's CPU: the process's own work)."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Phase:
        self._wall, self._cpu = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self._wall, time.thread_time() - self._cpu


def main(argv: list[str]) -> None:
    as_of = date.fromisoformat(argv[0])
    settings = get_settings()
    engine = db.engine_for(settings.database_url)
    instrument()
    key = period_key("weekly", as_of)
    resources = Resources.build(settings)
    # A whole-pool run, as the flow opens it: its plan is the basis of the rerun below.
    spec = steps.open_spec(resources, "weekly", key, period_start("weekly", key), as_of, False)
    resources.validate = timed("planning.validate_candidates", resources.validate)
    tools = resources.tools(spec)
    tools.renderer.render = timed("renderer.render", tools.renderer.render)  # type: ignore[method-assign]
    with engine.connect() as conn:
        bounds = extract.batch_bounds(conn, "weekly", settings.batch_size)
    phases = {"plan": Phase(), "deliver": Phase(), "rerun plan": Phase()}
    with phases["plan"]:
        planned = sum(planning.plan_batch(resources, spec, lo, hi).stages["planned"]
                      for lo, hi in bounds)
    incremental.record_basis(engine, spec)
    spent = by_phase(({}, {}), "plan")
    before = snapshot()
    refresh_statistics(engine, "sends")  # as the run does between its plan and its deliveries
    with phases["deliver"], resources.transport.open() as session:
        session.send = timed("transport.send", session.send)  # type: ignore[method-assign]
        sent = sum(delivery.deliver_batch(resources, spec, lo, hi, session)
                   .stages["sent"] for lo, hi in bounds)
    spent.update(by_phase(before, "deliver"))
    before = snapshot()
    with phases["rerun plan"]:  # what a rerun does: open (its basis), its scope, its batches
        rerun = steps.open_spec(resources, "weekly", key, period_start("weekly", key), as_of, False)
        scope, _ = timed("incremental.plan_scope", steps.plan_scope)(resources, rerun)
        replanned = sum(planning.plan_batch(resources, rerun, lo, hi).stages["planned"]
                        for lo, hi in scope)
    spent.update(by_phase(before, "rerun"))
    deliver = phases["deliver"]
    print(f"plan {phases['plan'].wall:.1f} s ({planned:,} planned), deliver {deliver.wall:.1f} s "
          f"({sent:,} sent, {sent / deliver.wall:,.0f} msg/s), rerun plan "
          f"{phases['rerun plan'].wall:.1f} s ({replanned:,} planned again)")
    print(f"{'phase':42} {'wall s':>8} {'CPU s':>8} {'CPU µs/sent':>12}")
    for name, phase in phases.items():
        print(f"{name:42} {phase.wall:8.2f} {phase.cpu:8.2f} {phase.cpu / max(sent, 1) * 1e6:12.0f}")
    print(f"\n{'stage':42} {'wall s':>8} {'CPU s':>8} {'wall µs/sent':>12} {'CPU µs/sent':>12}")
    for label, (wall, cpu) in sorted(spent.items(), key=lambda item: -item[1][0]):
        print(f"{label:42} {wall:8.2f} {cpu:8.2f} {wall / max(sent, 1) * 1e6:12.0f} "
              f"{cpu / max(sent, 1) * 1e6:12.0f}")
    report({"phases": {name: {"wall": round(phase.wall, 3), "cpu": round(phase.cpu, 3)}
                       for name, phase in phases.items()},
            "planned": planned, "sent": sent,
            "stages": {label: {"wall": round(wall, 3), "cpu": round(cpu, 3)}
                       for label, (wall, cpu) in spent.items()}})


if __name__ == "__main__":
    main(sys.argv[1:])
