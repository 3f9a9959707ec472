"""Run one benchmark step in a child process: wall time, peak RSS of its process tree, its result."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")
RESULT_MARK = "BENCH-RESULT "  # the child prints its JSON result on a line starting with this


@dataclass
class Measured:
    """What a child step took, from outside (wall, RSS) and from inside (its own JSON result)."""

    wall_seconds: float
    peak_rss_mb: float  # max over time of the summed RSS of the child and its descendants
    self_peak_rss_mb: float  # the kernel's exact high-water mark of the child process itself
    result: dict[str, Any] = field(default_factory=dict)


def tree_rss(root: int) -> int:
    """Summed resident bytes of `root` and every descendant (read from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)  # fields[1]: parent pid
        rss[pid] = int(fields[21]) * PAGE  # fields[21]: rss in pages
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run_child(command: list[str], env: dict[str, str], log: Path, sample_every: float = 0.1) -> Measured:
    """Run `command`, sampling its tree's RSS; raise with the log's end if it fails."""
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, cwd=Path(__file__).parent.parent)
        peak = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.wait(sample_every):
                peak = max(peak, tree_rss(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        stop.set()
        sampler.join()
    wall = time.perf_counter() - started
    text = log.read_text(errors="replace")
    if process.returncode != 0:
        tail = "\n".join(text.splitlines()[-30:])
        raise RuntimeError(f"bench step {' '.join(command[1:])} failed ({process.returncode}):\n{tail}")
    lines = [line for line in text.splitlines() if line.startswith(RESULT_MARK)]
    result = json.loads(lines[-1][len(RESULT_MARK):]) if lines else {}
    self_peak = usage.ru_maxrss * 1024  # kilobytes on Linux
    return Measured(wall, max(peak, self_peak) / 2**20, self_peak / 2**20, result)


def report(result: dict[str, Any]) -> None:
    """Child side: hand the result to the driver on stdout."""
    print(RESULT_MARK + json.dumps(result, default=str), flush=True)
