"""Segments are data (`segments.yaml`): who they match and which template they use."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vivier.rules.cadences import CADENCES

DEFAULT_SEGMENT = "default"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class SegmentProblem(ValueError):
    """segments.yaml cannot be used as written."""


class SegmentFilter(BaseModel):
    """Every listed field must match (case-insensitive); an absent field matches everyone."""

    model_config = ConfigDict(extra="forbid")

    status: list[str] | None = None
    search_location: list[str] | None = None
    expertise: list[str] | None = None
    city: list[str] | None = None
    tags: list[str] | None = Field(default=None, description="matches when the candidate has any of them")

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: list[str] | None) -> list[str] | None:
        unknown = set(value or ()) - {"active", "passive", "former"}
        if unknown:
            raise ValueError(f"unknown status {sorted(unknown)} (active, passive, former)")
        return value


class Segment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    match: SegmentFilter = Field(default_factory=SegmentFilter)
    templates: dict[str, str] = Field(default_factory=dict, description="cadence -> template")
    holdout: float = Field(0.0, ge=0, le=0.5, description="share held out of each period's message")
    send_when_empty: bool = Field(
        False, description="sent even when the message carries no new opening or content")

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _NAME.match(value) or value == DEFAULT_SEGMENT:
            raise ValueError(f"{value!r}: use lowercase letters, digits and dashes, not 'default'")
        return value

    @field_validator("templates")
    @classmethod
    def _known_cadences(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(CADENCES)
        if unknown:
            raise ValueError(f"templates for unknown cadences {sorted(unknown)}")
        return value

    def template_for(self, cadence: str) -> str:
        return self.templates.get(cadence, cadence)


class Segments:
    """The ordered segment list; a candidate belongs to the first that matches, else default."""

    def __init__(self, segments: Iterable[Segment], default_holdout: float = 0.0) -> None:
        self.segments = list(segments)
        self.default_holdout = default_holdout
        self._folded = [
            (segment, {
                field: {v.casefold() for v in values}
                for field, values in segment.match.model_dump(exclude_none=True).items()
            })
            for segment in self.segments
        ]

    @property
    def names(self) -> list[str]:
        return [segment.name for segment in self.segments] + [DEFAULT_SEGMENT]

    def assign(self, candidate: dict[str, Any]) -> str:
        """The segment name of one candidate row (keys as in the candidates table)."""
        for segment, wanted in self._folded:
            if all(_matches(candidate.get(field), values) for field, values in wanted.items()):
                return segment.name
        return DEFAULT_SEGMENT

    def template(self, segment_name: str, cadence: str) -> str:
        for segment in self.segments:
            if segment.name == segment_name:
                return segment.template_for(cadence)
        return cadence

    def holdout(self, segment_name: str) -> float:
        """The share of this segment held out of each period's message (0: nobody)."""
        for segment in self.segments:
            if segment.name == segment_name:
                return segment.holdout
        return self.default_holdout

    def check_templates(self, available: set[str]) -> None:
        missing = sorted(
            f"{segment.name}: {template}" for segment in self.segments
            for template in segment.templates.values() if template not in available
        )
        if missing:
            raise SegmentProblem(
                "segments.yaml names templates with no folder under templates/: "
                + ", ".join(missing)
            )

    def coverage(self, candidates: Iterable[dict[str, Any]]) -> Coverage:
        """Per segment, whom it takes and whom an earlier segment shadows, over `candidates`."""
        counts = {name: SegmentCount(name) for name in self.names}
        seen: dict[str, set[str]] = {}
        total = 0
        for candidate in candidates:
            total += 1
            for field_name, value in candidate.items():
                values = value if isinstance(value, list) else [value]
                seen.setdefault(field_name, set()).update(
                    v.casefold() for v in values if isinstance(v, str))
            taker = None
            for segment, wanted in self._folded:
                if all(_matches(candidate.get(f), values) for f, values in wanted.items()):
                    counts[segment.name].matched += 1
                    if taker is None:
                        taker = segment.name
                    else:
                        counts[segment.name].shadowed_by[taker] += 1
            counts[taker or DEFAULT_SEGMENT].taken += 1
        counts[DEFAULT_SEGMENT].matched = counts[DEFAULT_SEGMENT].taken
        for segment in self.segments:
            for field_name, values in segment.match.model_dump(exclude_none=True).items():
                unknown = [v for v in values if v.casefold() not in seen.get(field_name, set())]
                if unknown:
                    counts[segment.name].unmatched[field_name] = unknown
        return Coverage(total, list(counts.values()))

    def check_selection(self, selected: Iterable[str]) -> None:
        unknown = sorted(set(selected) - set(self.names))
        if unknown:
            raise SegmentProblem(
                f"unknown segment(s) {unknown}: known are {', '.join(self.names)}"
            )


@dataclass
class SegmentCount:
    """One segment over the pool: whom its filter matches, whom it takes, who went earlier."""

    name: str
    matched: int = 0
    taken: int = 0
    shadowed_by: Counter[str] = field(default_factory=Counter)  # earlier segment -> candidates
    unmatched: dict[str, list[str]] = field(default_factory=dict)  # field -> values nobody has

    @property
    def shadowed(self) -> int:
        return self.matched - self.taken


@dataclass
class Coverage:
    """How segments.yaml cuts the pool: what `vivier segments check` shows."""

    candidates: int
    segments: list[SegmentCount]  # in order, `default` last

    def problems(self) -> list[str]:
        """What would surprise: segments that take nobody, values no candidate has."""
        if self.candidates == 0:
            return ["no candidates in the database: import candidates, then check the segments"]
        found = []
        for count in self.segments:
            if count.name == DEFAULT_SEGMENT:
                continue
            for field_name, values in count.unmatched.items():
                found.append(f"segment {count.name}: {field_name} {', '.join(map(repr, values))} "
                             "matches no candidate (a typo? values compare without case)")
            if count.matched == 0:
                found.append(f"segment {count.name}: its filter matches no candidate")
            elif count.taken == 0:
                earlier = ", ".join(f"{name} ({n})" for name, n in count.shadowed_by.most_common())
                found.append(f"segment {count.name}: takes nobody, every candidate it matches is "
                             f"taken by an earlier segment: {earlier}; move it up or narrow those")
        return found

    def to_dict(self) -> dict[str, Any]:
        return {"candidates": self.candidates, "problems": self.problems(), "segments": [
            {"name": c.name, "matched": c.matched, "taken": c.taken, "shadowed": c.shadowed,
             "shadowed_by": dict(c.shadowed_by), "unmatched": c.unmatched}
            for c in self.segments]}


def _matches(value: Any, wanted: set[str]) -> bool:
    if isinstance(value, list):
        return any(isinstance(v, str) and v.casefold() in wanted for v in value)
    return isinstance(value, str) and value.casefold() in wanted


def load_segments(path: Path) -> Segments:
    """Read and validate segments.yaml; errors name the segment and the field."""
    if not path.exists():
        return Segments([])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SegmentProblem(f"{path}: not valid YAML: {exc}") from None
    entries = raw.get("segments", []) if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise SegmentProblem(f"{path}: expected a top-level `segments:` list")
    segments, problems, seen = [], [], set()
    for index, entry in enumerate(entries, start=1):
        label = entry.get("name", f"#{index}") if isinstance(entry, dict) else f"#{index}"
        try:
            segment = Segment.model_validate(entry)
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"])
                problems.append(f"segment {label}: {where}: {error['msg']}")
            continue
        if segment.name in seen:
            problems.append(f"segment {segment.name}: defined twice")
        seen.add(segment.name)
        segments.append(segment)
    default_holdout = raw.get("default_holdout", 0.0)
    if not isinstance(default_holdout, int | float) or not 0 <= default_holdout <= 0.5:
        problems.append(f"default_holdout: {default_holdout!r} is not a share between 0 and 0.5")
    if problems:
        raise SegmentProblem(f"{path}:\n  " + "\n  ".join(problems))
    return Segments(segments, float(default_holdout))
