"""`vivier segments check`: what each segment takes, what earlier ones shadow, and the surprises."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from tests import builders
from vivier import preferences
from vivier.preferences import Choices, Evidence
from vivier.rules.segments import load_segments
from vivier.settings import get_settings

SEGMENTS = """
segments:
  - name: hr-canada
    match: {expertise: [Ressources humaines], search_location: [Montréal, Toronto]}
  - name: hr
    match: {expertise: [Ressources humaines]}
  - name: data
    match: {expertise: [Data]}
"""


def use_segments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "segments.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("VIVIER_SEGMENTS_FILE", str(path))
    get_settings.cache_clear()
    return path


def pool(engine) -> None:
    for place in ("Montréal", "Toronto", "Lyon"):
        builders.candidate(engine, expertise="Ressources humaines", search_location=place)
    for _ in range(2):
        builders.candidate(engine, expertise="Data")
    builders.candidate(engine, expertise="Finance")
    builders.candidate(engine, expertise="Paie", erased_at=datetime(2026, 1, 1, tzinfo=UTC))


def check(*options: str):
    return CliRunner().invoke(app, ["segments", "check", *options])


def test_each_segment_takes_its_candidates_and_shadowing_is_counted(
    engine, settings, tmp_path, monkeypatch
) -> None:
    use_segments(tmp_path, monkeypatch, SEGMENTS)
    pool(engine)
    result = check("--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["candidates"] == 6 and report["problems"] == []  # the erased one does not count
    by_name = {row["name"]: row for row in report["segments"]}
    assert [row["name"] for row in report["segments"]] == ["hr-canada", "hr", "data", "default"]
    assert (by_name["hr-canada"]["taken"], by_name["hr-canada"]["shadowed"]) == (2, 0)
    assert by_name["hr"] == {"name": "hr", "matched": 3, "taken": 1, "shadowed": 2,
                             "shadowed_by": {"hr-canada": 2}, "unmatched": {}}
    assert (by_name["data"]["taken"], by_name["default"]["taken"]) == (2, 1)

    table = check()
    assert table.exit_code == 0, table.output
    assert "hr-canada 2" in table.output and "every segment takes someone" in table.output


def test_a_segment_that_matches_nobody_fails(engine, settings, tmp_path, monkeypatch) -> None:
    use_segments(tmp_path, monkeypatch, SEGMENTS + "  - {name: alumni, match: {status: [former]}}\n")
    pool(engine)
    result = check()
    assert result.exit_code == 1
    assert "segment alumni: status 'former' matches no candidate" in result.output
    assert "segment alumni: its filter matches no candidate" in result.output


def test_a_segment_wholly_shadowed_by_earlier_ones_fails(engine, settings, tmp_path, monkeypatch) -> None:
    canada = "  - {name: canada, match: {search_location: [Montréal]}}\n"
    use_segments(tmp_path, monkeypatch, SEGMENTS + canada)
    pool(engine)
    result = check("--json")
    assert result.exit_code == 1
    [problem] = json.loads(result.output)["problems"]
    assert problem.startswith("segment canada: takes nobody") and "hr-canada (1)" in problem


def test_a_value_no_candidate_has_fails_even_when_the_segment_takes_others(
    engine, settings, tmp_path, monkeypatch
) -> None:
    use_segments(tmp_path, monkeypatch,
                 "segments:\n  - {name: data, match: {expertise: [Data, Dta], tags: [python]}}\n"
                 "  - {name: lyon, match: {city: [LYON]}}\n")  # values compare without case
    builders.candidate(engine, expertise="Data", tags=["Python"])
    builders.candidate(engine, expertise="Finance", city="Lyon")
    report = json.loads(check("--json").output)
    assert report["problems"] == [
        "segment data: expertise 'Dta' matches no candidate (a typo? values compare without case)"]
    assert check().exit_code == 1


def test_an_invalid_file_is_refused_before_reading_the_pool(engine, settings, tmp_path, monkeypatch) -> None:
    use_segments(tmp_path, monkeypatch, "segments:\n  - {name: a, match: {status: [actve]}}\n")
    result = check()
    assert result.exit_code == 2 and "unknown status" in result.output


def test_an_empty_pool_says_to_import_first(engine, settings, tmp_path, monkeypatch) -> None:
    use_segments(tmp_path, monkeypatch, SEGMENTS)
    result = check()
    assert result.exit_code == 1 and "no candidates in the database" in result.output


def test_the_shipped_segments_shadow_hr_france_with_hr_canada() -> None:
    segments = load_segments(Path(__file__).resolve().parents[1] / "segments.yaml")
    hr = {"expertise": "Recrutement", "status": "active", "tags": [], "city": "Lyon"}
    coverage = segments.coverage([{**hr, "search_location": "Toronto"}, {**hr, "search_location": "Lyon"}])
    counts = {count.name: count for count in coverage.segments}
    assert (counts["hr-france"].taken, counts["hr-france"].shadowed_by) == (1, {"hr-canada": 1})


def test_the_field_a_candidate_chose_on_the_preference_page_decides_their_segment(
    engine, settings, tmp_path, monkeypatch
) -> None:
    use_segments(tmp_path, monkeypatch, SEGMENTS)
    pool(engine)
    moved = builders.candidate(engine, expertise="Finance")  # the ATS's field...
    preferences.apply_choices(engine, moved, Choices(expertise="Data"),  # ...and their own choice
                              Evidence(source="preference_centre"))
    result = check("--json")
    assert result.exit_code == 0, result.output
    by_name = {row["name"]: row for row in json.loads(result.output)["segments"]}
    assert (by_name["data"]["taken"], by_name["default"]["taken"]) == (3, 1)  # as a run assigns
