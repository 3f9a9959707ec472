"""Where a step spends its time: py-spy samples folded into pipeline stages and hot functions.

py-spy samples every thread that is running Python (idle threads are left out), so a stage's
share is its share of busy samples across the flow's threads, not of wall time.
"""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# (function-name fragment, file fragment) -> stage; the innermost match on a stack wins.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("read_batch", "extract.py", "read"),
    ("latest_consents", "extract.py", "read"),
    ("ledger", "extract.py", "read"),
    ("first_holders", "extract.py", "read"),
    ("suppressed", "extract.py", "read"),
    ("read_candidates", "extract.py", "read"),
    ("batch_bounds", "extract.py", "read"),
    ("_frame", "plan.py", "validate"),
    ("validate_candidates", "runner.py", "validate"),
    ("exclusion", "eligibility.py", "consent"),
    ("render_context", "context.py", "render"),
    ("render", "rendering.py", "render"),
    ("outgoing", "context.py", "build"),
    ("build_mime", "mime.py", "build"),
    ("send", "transports/smtp.py", "send"),
    ("sendmail", "smtplib.py", "send"),
    ("withdraw", "moves.py", "record"),
    ("write_plan", "plan.py", "record"),
    ("claim", "moves.py", "claim"),
    ("_record", "deliver.py", "record"),
    ("record", "bare_loop.py", "record"),
)
PHASES = (("plan_batch", "plan.py", "plan"), ("deliver_batch", "deliver.py", "deliver"),
          ("one_batch", "bare_loop.py", "loop"))


@dataclass
class Profile:
    """Busy samples per (phase, stage) and per innermost function."""

    samples: int
    by_stage: Counter[tuple[str, str]]
    hot_functions: Counter[str]


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def command(output: Path, argv: list[str], rate: int = 67) -> list[str]:
    """The py-spy command that runs `python argv…` and writes folded stacks to `output`."""
    spy = py_spy()
    if spy is None:
        raise RuntimeError("py-spy is not installed: `pip install -e '.[bench]'`")
    return [spy, "record", "--format", "raw", "--rate", str(rate), "--subprocesses",
            "--output", str(output), "--", sys.executable, *argv]


def _frame(text: str) -> tuple[str, str]:
    """'function (path/file.py:12)' -> (function, path)."""
    name, _, where = text.rpartition(" (")
    return name, where.rstrip(")").rsplit(":", 1)[0]


def _label(frames: list[tuple[str, str]], table: tuple[tuple[str, str, str], ...]) -> str | None:
    for name, path in reversed(frames):
        for function, file, label in table:
            if name.endswith(function) and path.endswith(file):
                return label
    return None


def fold(raw: Path) -> Profile:
    """Read py-spy's raw output (one folded stack and its count a line)."""
    by_stage: Counter[tuple[str, str]] = Counter()
    hot: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(part) for part in stack.split(";") if " (" in part]
        if not frames:
            continue
        total += count
        stage = _label(frames, STAGES) or ("orchestration" if any(
            "prefect" in path for _, path in frames) else "other")
        by_stage[(_label(frames, PHASES) or "-", stage)] += count
        name, path = frames[-1]
        hot[f"{name} ({path})"] += count
    return Profile(total, by_stage, hot)


def markdown(profile: Profile, title: str, top: int = 15) -> str:
    lines = [f"#### {title}: {profile.samples:,} busy samples", "",
             "| phase | stage | share |", "|---|---|---:|"]
    for (phase, stage), count in profile.by_stage.most_common():
        lines.append(f"| {phase} | {stage} | {count / max(profile.samples, 1):.1%} |")
    lines += ["", "| hottest functions (self) | share |", "|---|---:|"]
    for name, count in profile.hot_functions.most_common(top):
        lines.append(f"| `{name}` | {count / max(profile.samples, 1):.1%} |")
    return "\n".join(lines)
