"""The run summary people read: in the Prefect UI (markdown + table) and on the command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vivier.pipeline.tally import Tally

_DELIVERY_KEYS = {"planned", "waiting", "sent", "failed", "hard_bounce", "in_doubt"}
STAGE_ORDER = ("extracted", "outside_segments", "invalid", "planned", "waiting", "sent", "failed",
               "hard_bounce", "in_doubt", "lapsed")


@dataclass
class RunSummary:
    cadence: str
    period_key: str
    as_of: str
    dry_run: bool
    run_id: int
    flow_run_id: str | None
    tally: Tally
    seconds: float = 0.0
    outcome: str = "completed"
    notes: list[str] = field(default_factory=list)

    @property
    def messages_per_second(self) -> float:
        sent = self.tally.stages["sent"]
        return sent / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "cadence": self.cadence, "period_key": self.period_key, "as_of": self.as_of,
            "dry_run": self.dry_run, "run_id": self.run_id, "flow_run_id": self.flow_run_id,
            "seconds": round(self.seconds, 3), "messages_per_second": round(self.messages_per_second, 1),
            "outcome": self.outcome, "notes": self.notes, **self.tally.to_dict(),
        }

    def markdown(self) -> str:
        stages = self.tally.stages
        mode = " (dry run: nothing sent)" if self.dry_run else ""
        lines = [
            f"# {self.cadence} {self.period_key}{mode}",
            "",
            f"Outcome: **{self.outcome}** · as of {self.as_of} · run {self.run_id} · "
            f"{self.seconds:.1f} s · {self.messages_per_second:.0f} messages/s",
            "",
            "| stage | candidates |", "|---|---:|",
            *(f"| {name} | {stages[name]:,} |" for name in STAGE_ORDER if name in stages),
        ]
        if self.tally.reasons:
            lines += ["", "## Not messaged, by reason", "", "| reason | candidates |", "|---|---:|"]
            lines += [f"| {reason} | {count:,} |" for reason, count in self.tally.reasons.most_common()]
        if self.tally.waiting:
            lines += ["", "## Waiting for their send window, by time zone", "",
                      "The hourly `deliver` deployment sends each when its window opens.", "",
                      "| time zone | messages |", "|---|---:|"]
            lines += [f"| {zone} | {count:,} |" for zone, count in sorted(self.tally.waiting.items())]
        if self.tally.failures:
            lines += ["", "## Failed sends, by reply code or reason", "", "| reason | messages |",
                      "|---|---:|"]
            lines += [f"| {reason} | {count:,} |" for reason, count in self.tally.failures.most_common()]
        if self.tally.checks:
            lines += ["", "## Failed data checks", "", "| check | rows |", "|---|---:|"]
            lines += [f"| {check} | {count:,} |" for check, count in self.tally.checks.most_common()]
        if self.tally.segments:
            lines += ["", "## By segment", "", "| segment | planned | sent | not messaged |",
                      "|---|---:|---:|---:|"]
            for name, counts in sorted(self.tally.segments.items()):
                excluded = sum(n for key, n in counts.items() if key not in _DELIVERY_KEYS)
                lines.append(f"| {name} | {counts['planned']:,} | {counts['sent']:,} | {excluded:,} |")
        if self.tally.samples:
            lines += ["", "## Rendered samples", ""] + [f"- `{path}`" for path in self.tally.samples]
        if self.notes:
            lines += ["", *self.notes]
        return "\n".join(lines)

    def quarantine_table(self) -> list[dict[str, Any]]:
        return [{"candidate_id": cid, "reason": reason, "detail": detail}
                for cid, reason, detail in self.tally.quarantined]
