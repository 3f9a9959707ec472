"""Segments are data: validated at load, first match wins, templates must exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from vivier.rules.segments import DEFAULT_SEGMENT, SegmentProblem, load_segments
from vivier.settings import PROJECT_ROOT


def test_shipped_segments_load_and_assign_hr_canada() -> None:
    segments = load_segments(PROJECT_ROOT / "segments.yaml")
    hr_canada = {"expertise": "ressources humaines", "search_location": "Montréal",
                 "status": "active", "tags": []}
    assert segments.assign(hr_canada) == "hr-canada"
    assert segments.template("hr-canada", "weekly") == "weekly-hr-canada"
    assert segments.template("hr-canada", "monthly") == "monthly"
    assert segments.assign({"expertise": "Finance", "search_location": "Lyon"}) == DEFAULT_SEGMENT


def test_first_matching_segment_wins(tmp_path: Path) -> None:
    path = tmp_path / "segments.yaml"
    path.write_text(
        "segments:\n"
        "  - {name: alumni, match: {status: [former]}}\n"
        "  - {name: data, match: {tags: [python, sql]}}\n", encoding="utf-8")
    segments = load_segments(path)
    assert segments.assign({"status": "former", "tags": ["sql"]}) == "alumni"
    assert segments.assign({"status": "active", "tags": ["SQL"]}) == "data"


@pytest.mark.parametrize(("text", "message"), [
    ("segments:\n  - {name: Bad Name}\n", "segment Bad Name: name"),
    ("segments:\n  - {name: a, match: {colour: [red]}}\n", "segment a: match.colour"),
    ("segments:\n  - {name: a, match: {status: [retired]}}\n", "unknown status"),
    ("segments:\n  - {name: a}\n  - {name: a}\n", "defined twice"),
    ("segments:\n  - {name: a, templates: {daily: x}}\n", "unknown cadences"),
    ("segments: [unclosed\n", "not valid YAML"),
    ("just text\n", "top-level `segments:` list"),
])
def test_bad_segment_files_get_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "segments.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SegmentProblem, match=message):
        load_segments(path)


def test_unknown_template_and_selection_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "segments.yaml"
    path.write_text("segments:\n  - {name: a, templates: {weekly: nowhere}}\n", encoding="utf-8")
    segments = load_segments(path)
    with pytest.raises(SegmentProblem, match="a: nowhere"):
        segments.check_templates({"weekly", "monthly", "quarterly"})
    with pytest.raises(SegmentProblem, match="unknown segment"):
        segments.check_selection(["b"])
