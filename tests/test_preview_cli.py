"""`vivier preview` on the command line and its page in headless Chromium (offline, iframes drawn)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app
from tests import builders
from tests.test_preview import PARIS, english_opening, snapshot
from tests.web.test_browser import browser  # noqa: F401  (the same headless chromium fixture)
from vivier.rules.schedule import scheduled_instant

runner = CliRunner()
MONDAY = scheduled_instant("weekly", "2026-W49", PARIS)


def pool(engine: Any) -> dict[str, int]:
    """A French and an English recipient, one withdrawn (tech), one in the hr-france segment."""
    builders.openings(engine, MONDAY)
    english_opening(engine, MONDAY)
    return {
        "lea": builders.candidate(engine, external_id="ATS-LEA", first_name="Léa"),
        "ann": builders.candidate(engine, external_id="ATS-ANN", first_name="Ann", locale="en"),
        "gone": builders.candidate(engine, external_id="ATS-GONE", consent="withdrawn"),
        "hr": builders.candidate(engine, external_id="ATS-HR", expertise="Paie", search_location="Paris"),
    }


def offline(page: Any) -> list[str]:
    """Let the page load files only; every other request is refused and listed."""
    outside: list[str] = []

    def only_files(route: Any) -> None:
        if route.request.url.startswith(("file:", "data:", "about:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_files)
    return outside


def test_preview_prints_counts_and_a_candidates_message_and_writes_nothing(engine, settings) -> None:
    people = pool(engine)
    before = snapshot(engine)
    shown = runner.invoke(app, ["preview", "weekly", "--as-of", "2026-12-02"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "weekly 2026-W49 as the scheduled run would decide it on Monday 2026-11-30 09:00" in shown.output
    lines = {line.split("│")[1].strip(): line for line in shown.output.splitlines() if line.count("│") > 2}
    assert lines["planned"].split("│")[-2].strip() == "3"  # Léa, Ann (tech) and hr (hr-france)
    assert lines["consent_withdrawn"].split("│")[-2].strip() == "1"
    assert "Léa" not in shown.output  # counts only, no names

    mine = runner.invoke(app, ["preview", "weekly", "--as-of", "2026-12-02", "--candidate", "ATS-LEA"],
                         terminal_width=200)
    assert mine.exit_code == 0, mine.output
    assert f"Message-ID: <weekly.2026-W49.c{people['lea']}@vivier.example>" in mine.output
    assert "Subject:" in mine.output and "Bonjour Léa" in mine.output
    gone = runner.invoke(app, ["preview", "weekly", "--as-of", "2026-12-02", "--candidate", "ATS-GONE"],
                         terminal_width=200)
    assert f"candidate {people['gone']}: no weekly message for 2026-W49: consent_withdrawn" in gone.output
    assert snapshot(engine) == before


def test_a_segment_preview_counts_only_that_segment(engine, settings) -> None:
    pool(engine)
    shown = runner.invoke(app, ["preview", "weekly", "--as-of", "2026-11-30", "--segment", "hr-france"],
                          terminal_width=200)
    assert shown.exit_code == 0, shown.output
    header = next(line for line in shown.output.splitlines() if "┃ decision" in line)
    assert "hr-france" in header and "tech" not in header


@pytest.mark.parametrize("arguments,expected", [
    (["preview", "weeky"], "'weeky' is not one of"),
    (["preview", "weekly", "--segment", "nope"], "unknown segment"),
    (["preview", "weekly", "--candidate", "ATS-NOBODY"], "no candidate"),
    (["preview", "weekly", "--as-of", "30/11/2026"], "--as-of '30/11/2026' is not a date: use YYYY-MM-DD"),
    (["preview", "weekly", "--html", "{tmp}"], "is a folder"),
])
def test_bad_input_is_one_clear_line_and_exit_2(engine, settings, tmp_path, arguments, expected) -> None:
    pool(engine)
    before = snapshot(engine)
    done = runner.invoke(app, [part.replace("{tmp}", str(tmp_path)) for part in arguments],
                         terminal_width=200)
    assert done.exit_code == 2, done.output
    assert expected in " ".join(done.output.split()), done.output
    assert "Traceback" not in done.output
    assert snapshot(engine) == before


def test_the_page_is_private_replaces_an_earlier_preview_and_nothing_else(engine, settings, tmp_path) -> None:
    pool(engine)
    page = tmp_path / "preview.html"
    for _ in range(2):  # the second replaces the first
        done = runner.invoke(app, ["preview", "weekly", "--as-of", "2026-11-30", "--html", str(page)])
        assert done.exit_code == 0, done.output
        assert stat.S_IMODE(page.stat().st_mode) == 0o600
    text = page.read_text()
    assert "For the recruiting team only." in text and "personal data" in text
    assert "ATS-LEA" in text and "ATS-GONE" in text
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    refused = runner.invoke(app, ["preview", "weekly", "--html", str(database)], terminal_width=200)
    assert refused.exit_code == 2 and "is not a vivier preview page" in refused.output
    assert database.read_bytes().startswith(b"SQLite format 3")


@pytest.mark.browser
def test_the_page_opens_offline_and_each_message_renders_in_its_sandboxed_frame(
        engine, settings, request, tmp_path: Path) -> None:
    chromium = request.getfixturevalue("browser")
    pool(engine)
    page_file = tmp_path / "preview.html"
    done = runner.invoke(app, ["preview", "weekly", "--as-of", "2026-11-30", "--html", str(page_file)])
    assert done.exit_code == 0, done.output

    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    outside = offline(page)
    page.goto(page_file.as_uri())
    page.wait_for_load_state("networkidle")

    assert page.get_by_role("heading", level=1).inner_text() == "Preview: weekly 2026-W49"
    assert "For the recruiting team only." in page.inner_text("header")
    frames = page.locator("iframe.mail")
    assert frames.count() == 3  # tech: weekly × fr and × en; hr-france: weekly × fr
    for index in range(frames.count()):
        assert frames.nth(index).get_attribute("sandbox") == ""
        frames.nth(index).scroll_into_view_if_needed()
        box = frames.nth(index).bounding_box()
        assert box and box["width"] > 600 and box["height"] > 400, f"frame {index} has no size"
    bodies = [frame.locator("body").inner_text() for frame in page.frames[1:]]
    assert any("Léa" in body for body in bodies) and any("Ann" in body for body in bodies)
    recipients = page.locator("#segment-tech table.recipients").inner_text()
    assert "ATS-LEA" in recipients and "Europe/Paris" in recipients
    excluded = page.locator("#segment-tech table.excluded").inner_text()
    assert "ATS-GONE" in excluded and "consent_withdrawn" in excluded
    frames.first.screenshot(path=str(tmp_path / "message.png"))
    page.screenshot(path=str(tmp_path / "preview.png"), full_page=True)
    assert (tmp_path / "message.png").stat().st_size > 10_000
    assert outside == [], f"the page tried to fetch {outside}"
