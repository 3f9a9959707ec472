"""`make bench`: the weekly `nurture` flow against a bare Python loop, on PostgreSQL and a real SMTP sink.

    BENCH_N=100000 python -m bench.run        # sizes 10k and N; 1M adds 100k in between
    BENCH_PROFILE=1 python -m bench.run       # also profile both at the reference size (py-spy)

Each step runs in its own child process on a fresh copy of a seeded database, so every run does
the full work from the same state; the flow runs *in* its child process (thread task runner)
against a Prefect server started here. Peak RSS is the child's process tree; the shared services
(PostgreSQL, the Prefect server, the sink) are not counted.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import profile, report, services
from bench.measure import Measured, run_child
from testing.postgres import start_postgres
from testing.prefect_server import PrefectServer
from vivier.rules.cadences import today_in
from vivier.settings import get_settings
from vivier.store import db
from vivier.store.schema import Decision, Run, Send

REFERENCE = 100_000  # the size the rerun, dry-run and profile figures are taken at


def sizes_for(n: int) -> list[int]:
    return sorted({size for size in (10_000, REFERENCE, n) if size <= n} | {n})


class Bench:
    """The services and the child-process runs of one `make bench` invocation."""

    def __init__(self, workdir: Path, databases: services.Databases, sink: services.Sink,
                 prefect_env: dict[str, str], as_of: date) -> None:
        self.workdir, self.databases, self.sink, self.as_of = workdir, databases, sink, as_of
        self.prefect_env = prefect_env
        self.steps = 0

    def env(self, url: str) -> dict[str, str]:
        tuning = {k: v for k, v in os.environ.items() if k.startswith("VIVIER_")}  # e.g. BATCH_SIZE
        # Every message due at once, whatever the hour the bench runs at (bench/windows.py measures
        # what the send windows cost planning).
        windows = {"VIVIER_SEND_HOURS_WEEKLY": "always"}
        return {**self.prefect_env, **windows, **tuning, "VIVIER_DATABASE_URL": url,
                "VIVIER_TRANSPORT": "smtp",
                "VIVIER_SMTP_HOST": "127.0.0.1", "VIVIER_SMTP_PORT": str(self.sink.port),
                "VIVIER_SMTP_TLS": "plain", "VIVIER_SECRET_KEY": "bench-secret-key-of-32-bytes-at-least",
                "VIVIER_SAMPLES_DIR": str(self.workdir / "samples"), "GX_ANALYTICS_ENABLED": "false"}

    def step(self, module: str, url: str, *extra: str, spy: Path | None = None,
             env: dict[str, str] | None = None) -> dict[str, Any]:
        """One child run: `python -m bench.<module> <as_of>` (under py-spy when `spy` is set)."""
        self.steps += 1
        argv = ["-m", f"bench.{module}", self.as_of.isoformat(), *extra]
        log = self.workdir / f"{self.steps:02d}-{module}.log"
        before = self.sink.delivered()
        command = profile.command(spy, argv) if spy is not None else [sys.executable, *argv]
        measured = run_child(command, {**self.env(url), **(env or {})}, log)
        return _figures(measured, url, self.sink.delivered() - before, phases=module == "pipeline")


def _figures(measured: Measured, url: str, delivered: int, phases: bool) -> dict[str, Any]:
    """Outside figures plus what the database says: sent count, plan and deliver phases."""
    inner = measured.result
    with db.engine_for(url).connect() as conn:
        run_id = conn.execute(sa.select(sa.func.max(Run.id))).scalar_one()
        started, finished = conn.execute(
            sa.select(Run.started_at, Run.finished_at).where(Run.id == run_id)).one()
        sent, first_claim, last_sent = conn.execute(
            sa.select(sa.func.count(), sa.func.min(Send.claimed_at), sa.func.max(Send.sent_at))
            .where(Send.run_id == run_id, Send.status == "sent")).one()
        reasons = dict(conn.execute(
            sa.select(Decision.reason, sa.func.count()).where(Decision.run_id == run_id)
            .group_by(Decision.reason)).all())
    work = inner.get("work_seconds", measured.wall_seconds)
    figures = {
        "wall_seconds": round(measured.wall_seconds, 2), "work_seconds": round(work, 2),
        "import_seconds": round(inner.get("import_seconds", 0.0), 2),
        "sent": sent, "sink_received": delivered, "decisions": reasons,
        "messages_per_second": round(sent / work, 1) if work else 0.0,
        "peak_rss_mb": round(measured.peak_rss_mb, 1),
        "self_peak_rss_mb": round(measured.self_peak_rss_mb, 1),
        "outcome": inner.get("outcome"), "planned": inner.get("stages", {}).get("planned", 0),
    }
    if phases and "called_at" in inner:
        # Flow call → run row opened → first claim → last send → flow returned (same clock).
        end_of_plan = first_claim if first_claim is not None else finished
        figures["before_plan_seconds"] = round(started.timestamp() - inner["called_at"], 2)
        figures["plan_seconds"] = round((end_of_plan - started).total_seconds(), 2)
        if sent and first_claim is not None and last_sent is not None:
            deliver = (last_sent - first_claim).total_seconds()
            figures["deliver_seconds"] = round(deliver, 2)
            figures["deliver_messages_per_second"] = round(sent / deliver, 1) if deliver > 0 else None
        last = last_sent if last_sent is not None else end_of_plan
        figures["after_deliver_seconds"] = round(inner["returned_at"] - last.timestamp(), 2)
    return figures


def measure_size(bench: Bench, size: int, figures: dict[str, Any]) -> None:
    """Pipeline then bare loop on fresh copies of the pool of `size`; rerun + dry run at the reference."""
    pool = f"pool_{size}"
    url = bench.databases.fresh_copy(pool)
    print(f"[{size:,}] pipeline (nurture flow, in a child process) ...", flush=True)
    pipeline = bench.step("pipeline", url)
    if size == figures["reference"]:
        print(f"[{size:,}] rerun of the completed period ...", flush=True)
        rerun = bench.step("pipeline", url)
        rerun["share_of_first_run"] = round(rerun["work_seconds"] / pipeline["work_seconds"], 4)
        figures["rerun"] = rerun
    bench.databases.drop(url)
    if size == figures["reference"]:
        url = bench.databases.fresh_copy(pool)
        print(f"[{size:,}] dry run ...", flush=True)
        figures["dry_run"] = bench.step("pipeline", url, "--dry-run")
        bench.databases.drop(url)
        figures["dask"] = measure_dask(bench, pool)
    url = bench.databases.fresh_copy(pool)
    print(f"[{size:,}] bare loop (no Prefect, in a child process) ...", flush=True)
    bare = bench.step("bare_loop", url)
    bench.databases.drop(url)
    wide = None
    if size == figures["reference"]:
        connections = get_settings().smtp_connections
        url = bench.databases.fresh_copy(pool)
        print(f"[{size:,}] bare loop on {connections} connections (the parallel gain) ...", flush=True)
        wide = {**bench.step("bare_loop", url, "--connections", str(connections)),
                "connections": connections}
        bench.databases.drop(url)
    if pipeline["sent"] != bare["sent"]:
        print(f"  WARNING: the pipeline sent {pipeline['sent']:,}, the bare loop {bare['sent']:,}")
    figures["sizes"][str(size)] = {
        "pipeline": pipeline, "bare": bare, "bare_parallel": wide,
        "ratio_wall": round(pipeline["wall_seconds"] / bare["wall_seconds"], 3),
        "ratio_work": round(pipeline["work_seconds"] / bare["work_seconds"], 3),
    }
    print(f"  pipeline {pipeline['wall_seconds']:.1f} s, bare {bare['wall_seconds']:.1f} s, "
          f"sent {pipeline['sent']:,}", flush=True)


def measure_dask(bench: Bench, pool: str) -> dict[str, Any]:
    """The same run on a warm Dask cluster (VIVIER_TASK_RUNNER=dask, VIVIER_DASK_ADDRESS): its
    workers preloaded before the run, as a long-lived cluster's are."""
    workers = get_settings().dask_workers
    url = bench.databases.fresh_copy(pool)
    print(f"[dask] warm cluster of {workers} worker processes (preloaded) ...", flush=True)
    cluster = services.start_dask(bench.env(url), workers, bench.workdir)
    try:
        print("[dask] pipeline (VIVIER_TASK_RUNNER=dask) ...", flush=True)
        dask = bench.step("pipeline", url, env={"VIVIER_TASK_RUNNER": "dask",
                                                "VIVIER_DASK_ADDRESS": cluster.address})
    finally:
        cluster.stop()
        bench.databases.drop(url)
    return {**dask, "workers": workers}


def profile_reference(bench: Bench, figures: dict[str, Any]) -> str:
    """py-spy over the pipeline and the bare loop at the reference size: stage shares, hot spots."""
    parts = []
    for module in ("pipeline", "bare_loop"):
        url = bench.databases.fresh_copy(f"pool_{figures['reference']}")
        raw = bench.workdir / f"profile-{module}.txt"
        print(f"[profile] {module} under py-spy ...", flush=True)
        spied = bench.step(module, url, spy=raw)
        title = f"{module} at {figures['reference']:,} ({spied['wall_seconds']:.1f} s under py-spy)"
        parts.append(profile.markdown(profile.fold(raw), title))
        if module == "pipeline":  # the completed period, run again: what a rerun spends
            raw = bench.workdir / "profile-rerun.txt"
            print("[profile] rerun of the completed period under py-spy ...", flush=True)
            spied = bench.step(module, url, spy=raw)
            title = (f"rerun at {figures['reference']:,} ({spied['wall_seconds']:.1f} s under "
                     "py-spy, imports included)")
            parts.append(profile.markdown(profile.fold(raw), title))
        bench.databases.drop(url)
    url = bench.databases.fresh_copy(f"pool_{figures['reference']}")
    print("[profile] stage timer (bench.stages: plan + deliver on one thread, no Prefect) ...", flush=True)
    log = bench.workdir / "stages.log"
    run_child([sys.executable, "-m", "bench.stages", bench.as_of.isoformat()], bench.env(url), log)
    bench.databases.drop(url)
    timer = [line for line in log.read_text().splitlines()
             if line and not line.startswith(("BENCH-RESULT", "VIVIER_SECRET_KEY"))]
    parts.append(f"#### stage timer at {figures['reference']:,} (in-process, one thread)\n\n```\n"
                 + "\n".join(timer) + "\n```")
    return "\n\n".join(parts)


def main() -> None:
    n = int(os.environ.get("BENCH_N", "100000"))
    settings = get_settings()
    as_of = today_in(settings.zone)
    workdir = Path(tempfile.mkdtemp(prefix="vivier-bench-"))
    tuning = {k: v for k, v in sorted(os.environ.items()) if k.startswith("VIVIER_")}
    figures: dict[str, Any] = {
        "n": n, "tuning": tuning, "reference": min(REFERENCE, n), "sizes": {}, "as_of": as_of.isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_at_start": os.getloadavg()},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    started = time.perf_counter()
    postgres = start_postgres()
    databases = services.Databases(postgres)
    sink = services.start_sink(workdir)
    prefect = None
    try:
        prefect = PrefectServer.launch(workdir / "prefect")  # boots while we seed
        for size in sizes_for(n):
            print(f"seeding {size:,} candidates (COPY) ...", flush=True)
            figures.setdefault("seed_seconds", {})[str(size)] = round(
                databases.seed(f"pool_{size}", size, as_of), 1)
        prefect.wait_until_healthy()
        bench = Bench(workdir, databases, sink, prefect.client_env(), as_of)
        figures["sink"] = sink.kind
        for size in sizes_for(n):
            measure_size(bench, size, figures)
        if os.environ.get("BENCH_PROFILE"):
            figures["profile_markdown"] = profile_reference(bench, figures)
    finally:
        if prefect is not None:
            prefect.stop()
        sink.stop()
        databases.close()
        postgres.stop()
    figures["growth"] = report.growth(figures)
    figures["targets"] = report.targets(figures)
    figures["machine"]["load_average_at_end"] = os.getloadavg()
    figures["total_seconds"] = round(time.perf_counter() - started, 1)
    notes = (f"{time.strftime('%Y-%m-%d %H:%M')} · {os.cpu_count()} CPUs · sink: {figures['sink']} · "
             f"PostgreSQL {postgres.bindir.parent.name} (throwaway, fsync off) · "
             f"load average at start {figures['machine']['load_average_at_start'][0]:.1f} · "
             "each run in its own child process on a fresh copy of the seeded pool; "
             "peak RSS = the child's process tree (services not counted)")
    print("\n" + report.table(figures))
    if figures.get("profile_markdown"):
        print("\n" + figures["profile_markdown"])
    json_path, md_path = report.write(figures, notes)
    print(f"\nwritten: {json_path} and {md_path} (logs in {workdir})")


if __name__ == "__main__":
    main()
