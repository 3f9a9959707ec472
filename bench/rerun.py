"""What a rerun of a completed period costs: the weekly `nurture` flow once, then the same period again.

    python -m bench.rerun 2026-11-23 [--reruns 5] [--code DIR ...]

Against a PostgreSQL with a seeded `pool_<n>` and an SMTP sink: those of a running harness when
`BENCH_HARNESS` names its env.json (`{"pg": <admin URL>, "sink_port": …, "n": …}`), else started
here like `make bench` does (`BENCH_N` candidates, 100,000 by default); and a Prefect server
started here. Each `--code`
directory (default: this checkout) gets a fresh copy of the pool, a first run, then `--reruns`
reruns, each a `bench.pipeline` child process run *from that directory* (so two versions of the
code are measured in one session, interleaved run by run). It prints each rerun's work seconds
and its share of that directory's first run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import services
from bench.measure import RESULT_MARK
from testing.postgres import start_postgres
from testing.prefect_server import PrefectServer

HERE = Path(__file__).resolve().parent.parent


def _admin(harness: dict[str, Any]) -> sa.Engine:
    return sa.create_engine(harness["pg"], isolation_level="AUTOCOMMIT")


def fresh_copy(harness: dict[str, Any], name: str) -> str:
    """A new copy of the seeded pool named `name` (dropped first if left over)."""
    with _admin(harness).connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE pool_{harness['n']} STRATEGY FILE_COPY"))
    return harness["pg"].rsplit("/", 1)[0] + f"/{name}"


def drop(harness: dict[str, Any], name: str) -> None:
    with _admin(harness).connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def child_env(harness: dict[str, Any], prefect: dict[str, str], url: str) -> dict[str, str]:
    """The bench's settings (as bench/run.py sets them)."""
    return {**prefect, "VIVIER_DATABASE_URL": url, "VIVIER_TRANSPORT": "smtp",
            "VIVIER_SMTP_HOST": "127.0.0.1", "VIVIER_SMTP_PORT": str(harness["sink_port"]),
            "VIVIER_SMTP_TLS": "plain", "VIVIER_SECRET_KEY": "bench-secret-key-of-32-bytes-at-least",
            "VIVIER_SAMPLES_DIR": tempfile.mkdtemp(prefix="vivier-rerun-samples-"),
            "GX_ANALYTICS_ENABLED": "false", "VIVIER_SEND_HOURS_WEEKLY": "always"}


def run_pipeline(code: Path, env: dict[str, str], as_of: str, log: Path) -> dict[str, Any]:
    """One `python -m bench.pipeline` child in `code`; its BENCH-RESULT line."""
    with log.open("wb") as out:
        done = subprocess.run([sys.executable, "-m", "bench.pipeline", as_of], env=env, cwd=code,
                              stdout=out, stderr=subprocess.STDOUT, check=False)
    text = log.read_text(errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"bench.pipeline in {code} failed ({done.returncode}), log {log}:\n"
                           + "\n".join(text.splitlines()[-30:]))
    lines = [line for line in text.splitlines() if line.startswith(RESULT_MARK)]
    return dict(json.loads(lines[-1][len(RESULT_MARK):]))


# The flow run's own log lines that close each part of a rerun (bench.pipeline's output).
MARKS: tuple[tuple[str, ...], ...] = (("start", "Beginning flow run"), ("open-run", "Task run 'open-run-"),
         ("plan-scope", "Task run 'plan-scope-"), ("gate+publish", "Task run 'publish-summary-"),
         ("end", "Flow run '", "Finished in state"))


def parts(log: Path, result: dict[str, Any]) -> dict[str, float]:
    """Seconds of each part of the run, from its log's timestamps (call → … → return)."""
    called = datetime.fromtimestamp(result["called_at"])
    seen: dict[str, datetime] = {}
    for line in log.read_text(errors="replace").splitlines():
        for name, *texts in MARKS:
            if all(text in line for text in texts) and name not in seen and line[:2].isdigit():
                clock = datetime.strptime(line[:12], "%H:%M:%S.%f").time()
                seen[name] = datetime.combine(called.date(), clock)
    found, last = {}, called
    for name, *_ in MARKS:
        if name in seen:
            found[name] = round((seen[name] - last).total_seconds(), 3)
            last = seen[name]
    found["return"] = round(result["returned_at"] - last.timestamp(), 3)
    return found


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("as_of")
    parser.add_argument("--reruns", type=int, default=5)
    parser.add_argument("--code", type=Path, action="append",
                        help="a checkout to run the flow from (repeat to interleave versions)")
    parser.add_argument("--prefix", default="rerun", help="names of this script's pool copies")
    options = parser.parse_args(argv)
    codes = options.code or [HERE]
    workdir = Path(tempfile.mkdtemp(prefix="vivier-rerun-"))
    with _services(workdir, date.fromisoformat(options.as_of)) as harness:
        _measure(options, harness, codes, workdir)


@contextlib.contextmanager
def _services(workdir: Path, as_of: date) -> Iterator[dict[str, Any]]:
    """The harness `BENCH_HARNESS` names, else a throwaway PostgreSQL with a seeded pool and a sink."""
    if named := os.environ.get("BENCH_HARNESS"):
        yield json.loads(Path(named).read_text())
        return
    n = int(os.environ.get("BENCH_N", "100000"))
    postgres = start_postgres()
    databases = services.Databases(postgres)
    sink = services.start_sink(workdir)
    try:
        print(f"seeding {n:,} candidates (COPY) ...", flush=True)
        databases.seed(f"pool_{n}", n, as_of)
        yield {"pg": postgres.url(), "sink_port": sink.port, "n": n}
    finally:
        sink.stop()
        databases.close()
        postgres.stop()


def _measure(options: argparse.Namespace, harness: dict[str, Any], codes: list[Path],
             workdir: Path) -> None:
    print(f"load average {os.getloadavg()[0]:.1f}; logs in {workdir}", flush=True)
    server = PrefectServer.launch(workdir / "prefect")
    names = [f"{options.prefix}_{i}" for i in range(len(codes))]
    try:
        urls = [fresh_copy(harness, name) for name in names]
        server.wait_until_healthy()
        prefect = server.client_env()
        first: list[float] = []
        for i, (code, url) in enumerate(zip(codes, urls, strict=True)):
            result = run_pipeline(code, child_env(harness, prefect, url), options.as_of,
                                  workdir / f"{i}-first.log")
            first.append(result["work_seconds"])
            print(f"[{code}] first run: {result['work_seconds']:.2f} s of work, "
                  f"sent {result['stages'].get('sent', 0):,}", flush=True)
        shares: list[list[float]] = [[] for _ in codes]
        for n in range(options.reruns):
            for i, (code, url) in enumerate(zip(codes, urls, strict=True)):
                log = workdir / f"{i}-rerun{n}.log"
                result = run_pipeline(code, child_env(harness, prefect, url), options.as_of, log)
                work = result["work_seconds"]
                shares[i].append(work)
                cpu = result.get("work_cpu_seconds")
                print(f"[{code}] rerun {n + 1}: {work:.3f} s = {100 * work / first[i]:.2f}% of the "
                      f"first run (sent {result['stages'].get('sent', 0)}, load "
                      f"{os.getloadavg()[0]:.1f}"
                      + (f", process CPU {cpu:.3f} s" if cpu is not None else "") + ")", flush=True)
                print("    parts (s): " + ", ".join(f"{k} {v:.3f}" for k, v in parts(log, result).items()),
                      flush=True)
        for i, code in enumerate(codes):
            ordered = sorted(shares[i])
            print(f"[{code}] first {first[i]:.2f} s; reruns " + ", ".join(f"{w:.3f}" for w in shares[i])
                  + f" s; median {ordered[len(ordered) // 2]:.3f} s = "
                  f"{100 * ordered[len(ordered) // 2] / first[i]:.2f}%", flush=True)
    finally:
        server.stop()
        for name in names:
            drop(harness, name)


if __name__ == "__main__":
    main(sys.argv[1:])
