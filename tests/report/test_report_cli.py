"""`vivier report` on the command line: the Rich table, the filters, the HTML file."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from app.commands.report import report
from tests.report import hand_history

app = typer.Typer()
app.command()(report)  # the same function `vivier report` runs


def test_prints_the_table_and_writes_a_self_contained_html_report(engine, settings, tmp_path: Path) -> None:
    hand_history.write(engine)
    page = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(app, ["--html", str(page)], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    assert "2026-W10" in result.output and "2026-02" in result.output
    assert "50.0%" in result.output  # applied: 3 of the 6 weekly messages
    assert "+16.7 pp" in result.output and "small group" in result.output
    assert "unreliable" in result.output  # opens are flagged
    html = page.read_text(encoding="utf-8")
    assert html.count("<svg") == 2 + 2  # a trend per cadence, a funnel per segment
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html and "<script" not in html
    assert "example.org" not in html and "Martin" not in html  # figures only, no candidate


def test_filters_and_summary(engine, settings) -> None:
    hand_history.write(engine)
    weekly = CliRunner().invoke(app, ["--cadence", "weekly", "--summary"], env={"COLUMNS": "220"})
    assert weekly.exit_code == 0, weekly.output
    assert "weekly" in weekly.output and "monthly" not in weekly.output
    none = CliRunner().invoke(app, ["--since", "2027-01-01"])
    assert none.exit_code == 0 and "no messages or holdout decisions" in none.output


def test_a_bad_date_or_an_upside_down_range_is_refused_with_the_format(settings) -> None:
    bad = CliRunner().invoke(app, ["--since", "1 March"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    upside_down = CliRunner().invoke(app, ["--since", "2026-03-02", "--until", "2026-03-01"])
    assert upside_down.exit_code == 2 and "after --until" in upside_down.output


def test_help_teaches_by_example() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "vivier report --cadence weekly --segment tech --html" in result.output
