"""Child step: run the weekly `nurture` flow in this process, against the Prefect server in the env.

    python -m bench.pipeline 2026-11-23 [--dry-run]
"""

from __future__ import annotations

import sys
import time
from datetime import date

started = time.perf_counter()
import great_expectations  # noqa: E402,F401  (imported lazily by data_checks: counted as import here)

from bench.measure import report  # noqa: E402
from flows.nurture import nurture  # noqa: E402


def main(argv: list[str]) -> None:
    as_of = date.fromisoformat(argv[0])
    imported, called_at, cpu = time.perf_counter(), time.time(), time.process_time()
    summary = nurture(cadence="weekly", as_of=as_of, dry_run="--dry-run" in argv)
    finished = time.perf_counter()
    report({"import_seconds": imported - started, "work_seconds": finished - imported,
            "work_cpu_seconds": time.process_time() - cpu,  # this process's threads (not the servers')
            "called_at": called_at, "returned_at": time.time(),
            "stages": summary["stages"], "reasons": summary["reasons"],
            "outcome": summary["outcome"], "run_id": summary["run_id"]})


if __name__ == "__main__":
    main(sys.argv[1:])
