"""The HTML report in a real browser (Debian's chromium via Playwright): charts drawn, nothing fetched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report import hand_history
from tests.web.test_browser import browser  # noqa: F401  (the same headless chromium fixture)
from vivier.report import ReportFilters, build_report
from vivier.report.html import write_html

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_report_opens_offline_and_its_charts_render(engine, settings, request, tmp_path: Path) -> None:
    chromium = request.getfixturevalue("browser")
    hand_history.write(engine)
    report = build_report(engine, ReportFilters(), 30, settings.zone, now=hand_history.NOW)
    page_file = write_html(report, tmp_path / "report.html", settings.templates_dir)

    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    outside: list[str] = []

    def only_local(route) -> None:  # type: ignore[no-untyped-def]
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(page_file.as_uri())
    page.wait_for_load_state("networkidle")

    assert page.get_by_role("heading", level=1).inner_text() == "Nurturing report"
    charts = page.locator("svg.chart")
    assert charts.count() == 4  # trend: weekly, monthly; funnel: default, tech
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, f"chart {index} has no size"
    assert page.locator("svg.trend polyline").count() >= 3  # clicks, replies, applied (+ holdout)
    assert page.locator("svg.funnel rect").count() == 2 * 7
    assert "+16.7 pp" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert outside == [], f"the report tried to fetch {outside}"
    assert (tmp_path / "report.png").stat().st_size > 10_000
