"""Counts a run keeps per stage, reason and segment; batches return them, the run adds them up."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

QUARANTINE_CAP = 500  # ids listed in the run's table artifact; the decisions table has them all


@dataclass
class Tally:
    stages: Counter[str] = field(default_factory=Counter)  # extracted, invalid, eligible, planned, sent…
    reasons: Counter[str] = field(default_factory=Counter)  # decisions by reason
    checks: Counter[str] = field(default_factory=Counter)  # failing data checks
    segments: dict[str, Counter[str]] = field(default_factory=dict)  # segment -> planned / reasons
    quarantined: list[tuple[int, str, str]] = field(default_factory=list)  # id, reason, detail
    samples: list[str] = field(default_factory=list)  # rendered sample files (dry run)
    failures: Counter[str] = field(default_factory=Counter)  # failed sends by reply code / reason
    waiting: Counter[str] = field(default_factory=Counter)  # planned for a later window, by zone

    def segment(self, name: str) -> Counter[str]:
        return self.segments.setdefault(name, Counter())

    def quarantine(self, candidate_id: int, reason: str, detail: str) -> None:
        if len(self.quarantined) < QUARANTINE_CAP:
            self.quarantined.append((candidate_id, reason, detail))

    def add(self, other: Tally) -> Tally:
        self.stages.update(other.stages)
        self.reasons.update(other.reasons)
        self.checks.update(other.checks)
        for name, counts in other.segments.items():
            self.segment(name).update(counts)
        room = QUARANTINE_CAP - len(self.quarantined)
        self.quarantined.extend(other.quarantined[:max(room, 0)])
        self.samples.extend(other.samples)
        self.failures.update(other.failures)
        self.waiting.update(other.waiting)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "stages": dict(self.stages), "reasons": dict(self.reasons), "checks": dict(self.checks),
            "segments": {name: dict(counts) for name, counts in self.segments.items()},
            "quarantined": [list(row) for row in self.quarantined], "samples": list(self.samples),
            "failures": dict(self.failures), "waiting": dict(self.waiting),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tally:
        return cls(
            stages=Counter(data.get("stages", {})), reasons=Counter(data.get("reasons", {})),
            checks=Counter(data.get("checks", {})),
            segments={name: Counter(c) for name, c in data.get("segments", {}).items()},
            quarantined=[tuple(row) for row in data.get("quarantined", [])],  # type: ignore[misc]
            samples=list(data.get("samples", [])), failures=Counter(data.get("failures", {})),
            waiting=Counter(data.get("waiting", {})),
        )
