"""The holdout draw: deterministic per candidate and period, about the configured share."""

from __future__ import annotations

from pathlib import Path

import pytest

from vivier.rules.holdout import held_out
from vivier.rules.segments import SegmentProblem, load_segments


def test_the_same_candidate_and_period_always_draw_the_same() -> None:
    first = [held_out(n, "weekly", "2026-W48", 0.1) for n in range(2_000)]
    again = [held_out(n, "weekly", "2026-W48", 0.1) for n in range(2_000)]
    assert first == again


def test_the_drawn_share_is_close_to_the_setting() -> None:
    drawn = sum(held_out(n, "monthly", "2026-11", 0.1) for n in range(20_000))
    assert 1_800 < drawn < 2_200


def test_each_period_draws_a_fresh_group() -> None:
    week_48 = {n for n in range(5_000) if held_out(n, "weekly", "2026-W48", 0.1)}
    week_49 = {n for n in range(5_000) if held_out(n, "weekly", "2026-W49", 0.1)}
    assert week_48 and week_49 and len(week_48 & week_49) < len(week_48) / 4


def test_no_share_holds_nobody_out() -> None:
    assert not any(held_out(n, "weekly", "2026-W48", 0.0) for n in range(1_000))


def test_segments_yaml_sets_a_share_per_segment_and_for_default(tmp_path: Path) -> None:
    path = tmp_path / "segments.yaml"
    path.write_text("default_holdout: 0.05\nsegments:\n  - name: tech\n    holdout: 0.2\n"
                    "    match: {expertise: [Data]}\n", encoding="utf-8")
    segments = load_segments(path)
    assert segments.holdout("tech") == 0.2
    assert segments.holdout("default") == 0.05


@pytest.mark.parametrize("text", [
    "segments:\n  - name: tech\n    holdout: 0.9\n",
    "default_holdout: -0.1\nsegments: []\n",
])
def test_an_out_of_range_holdout_is_refused_with_its_place(tmp_path: Path, text: str) -> None:
    path = tmp_path / "segments.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SegmentProblem, match="holdout"):
        load_segments(path)
