"""Time every stage of the pipeline's own code, in-process and without Prefect or sampling.

Wraps the stage functions that `vivier.pipeline.plan.plan_batch` and `vivier.pipeline.deliver.deliver_batch`
call (the code the Prefect tasks run), runs the whole plan and deliver of the weekly pool on one
thread, then plans the completed period again (what a rerun does), and prints seconds and µs per
sent message for each stage.

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
from vivier.pipeline import extract, runs
from vivier.pipeline import plan as planning
from vivier.pipeline.resources import Resources
from vivier.pipeline.runs import RunSpec
from vivier.rules.cadences import period_key, period_start
from vivier.settings import get_settings
from vivier.store import db
from vivier.store.schema import utcnow

SPENT: dict[str, float] = defaultdict(float)
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
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            SPENT[label] += time.perf_counter() - started

    return wrapper


def instrument() -> None:
    for module, names in WRAPPED.items():
        short = module.__name__.rsplit(".", 1)[-1]
        for name in names:
            setattr(module, name, timed(f"{short}.{name}", getattr(module, name)))


def by_phase(before: dict[str, float], phase: str) -> dict[str, float]:
    """The seconds spent per stage since `before` was taken, labelled with the phase."""
    return {f"{phase}: {label}": seconds - before.get(label, 0.0)
            for label, seconds in SPENT.items() if seconds - before.get(label, 0.0) > 0}


def main(argv: list[str]) -> None:
    as_of = date.fromisoformat(argv[0])
    settings = get_settings()
    engine = db.engine_for(settings.database_url)
    instrument()
    key = period_key("weekly", as_of)
    run_id = runs.open_run(engine, "weekly", key, False, None)
    spec = RunSpec(run_id, "weekly", key, period_start("weekly", key), as_of, started_at=utcnow())
    resources = Resources.build(settings)
    resources.validate = timed("planning.validate_candidates", resources.validate)
    tools = resources.tools(spec)
    tools.renderer.render = timed("renderer.render", tools.renderer.render)  # type: ignore[method-assign]
    with engine.connect() as conn:
        bounds = extract.batch_bounds(conn, "weekly", settings.batch_size)
    phases: dict[str, float] = {}
    started = time.perf_counter()
    planned = sum(planning.plan_batch(resources, spec, lo, hi).stages["planned"]
                  for lo, hi in bounds)
    phases["plan"] = time.perf_counter() - started
    spent = by_phase({}, "plan")
    before = dict(SPENT)
    started = time.perf_counter()
    with resources.transport.open() as session:
        session.send = timed("transport.send", session.send)  # type: ignore[method-assign]
        sent = sum(delivery.deliver_batch(resources, spec, lo, hi, session)
                   .stages["sent"] for lo, hi in bounds)
    phases["deliver"] = time.perf_counter() - started
    spent.update(by_phase(before, "deliver"))
    before = dict(SPENT)
    rerun = RunSpec(runs.open_run(engine, "weekly", key, False, None), "weekly", key,
                    period_start("weekly", key), as_of, started_at=utcnow())
    started = time.perf_counter()
    replanned = sum(planning.plan_batch(resources, rerun, lo, hi).stages["planned"]
                    for lo, hi in bounds)
    phases["rerun plan"] = time.perf_counter() - started
    spent.update(by_phase(before, "rerun"))
    print(f"plan {phases['plan']:.1f} s ({planned:,} planned), deliver {phases['deliver']:.1f} s "
          f"({sent:,} sent, {sent / phases['deliver']:,.0f} msg/s), rerun plan "
          f"{phases['rerun plan']:.1f} s ({replanned:,} planned again)")
    print(f"{'stage':42} {'seconds':>8} {'share':>6} {'µs/sent':>8}")
    total = sum(phases.values())
    for label, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"{label:42} {seconds:8.2f} {seconds / total:6.1%} {seconds / max(sent, 1) * 1e6:8.0f}")
    report({"phases": phases, "planned": planned, "sent": sent,
            "stages": {label: round(seconds, 3) for label, seconds in spent.items()}})


if __name__ == "__main__":
    main(sys.argv[1:])
