"""The preference centre in a real browser: Debian's chromium driven by Playwright.

The link is the one a candidate really gets: `nurture` sends through the smtp transport to
an SMTP server on 127.0.0.1, and the test reads it from the received message. Screenshots
land in the test's tmp dir (`pytest --basetemp=...` keeps them where you want).
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.nurture import nurture
from testing.smtp import SmtpSink
from tests import builders
from tests.web.conftest import LiveServer, rows
from vivier.rules.cadences import today_in
from vivier.store.schema import Candidate, Preference, Suppression

pytestmark = [pytest.mark.browser, pytest.mark.smtp, pytest.mark.usefixtures("prefect_harness", "catalog")]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Debian chromium; missing chromium is a failure (CI installs it), never a skip."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: the browser tests need Debian's chromium "
                    "(`apt-get install chromium`; .ci/run installs it). Never `playwright install`.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def sent(settings, serve) -> Iterator[tuple[LiveServer, SmtpSink]]:
    """The app on a free port, and a real SMTP server that `nurture` sends to."""
    sink = SmtpSink().start()
    live = serve(VIVIER_TRANSPORT="smtp", VIVIER_SMTP_HOST=sink.host, VIVIER_SMTP_PORT=str(sink.port),
                 VIVIER_SMTP_TLS="plain", VIVIER_TASK_RETRIES="0")
    yield live, sink
    sink.stop()


def received_links(sink: SmtpSink, address: str) -> tuple[str, str]:
    """(preference link from the text body, unsubscribe link from the List-Unsubscribe header)."""
    (raw,) = sink.received_for(address)
    message = message_from_bytes(raw, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    preference = re.search(r"(http://127\.0\.0\.1:\d+/p/[\w.-]+)", text)
    assert preference, f"no preference link in the message:\n{text}"
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    return preference.group(1), unsubscribe


def frequency(engine: sa.Engine, candidate_id: int) -> str | None:
    found = rows(engine, Preference, candidate_id=candidate_id)
    return found[0].frequency if found else None


def email_of(engine: sa.Engine, candidate_id: int) -> str:
    with engine.connect() as conn:
        return conn.scalar(sa.select(Candidate.email).where(Candidate.id == candidate_id))


def test_a_candidate_changes_frequency_then_stops_messages_from_the_link_they_received(
    engine, settings, sent, browser, tmp_path: Path
) -> None:
    live, sink = sent
    james = builders.candidate(engine, locale="en", first_name="James", status="active")
    assert nurture(cadence="weekly", as_of=today_in(settings.zone))["stages"]["sent"] == 1
    link, _ = received_links(sink, email_of(engine, james))
    assert link.startswith(live.url)

    page = browser.new_page()
    page.goto(link)
    assert page.get_by_role("heading", level=1).inner_text() == "Your preferences"
    assert page.get_by_label("Every week").is_checked()
    page.screenshot(path=str(tmp_path / "1-preferences.png"), full_page=True)

    page.get_by_label("Once a month").check()
    page.get_by_role("button", name="Save my choices").click()
    page.wait_for_url(link)
    assert page.get_by_role("heading", level=1).inner_text() == "Your choices are saved"
    assert "How often: once a month (before: every week)." in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "2-monthly-saved.png"), full_page=True)
    assert frequency(engine, james) == "monthly"

    page.get_by_role("link", name="Back to your preferences").click()
    assert page.get_by_label("Once a month").is_checked()
    page.get_by_label("Do not write to me, but keep my profile").focus()  # keyboard only from here
    page.keyboard.press("Space")
    page.get_by_role("button", name="Save my choices").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Your choices are saved")
    assert "We will not write to you any more." in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "3-none-saved.png"), full_page=True)
    assert frequency(engine, james) == "none"
    assert nurture(cadence="weekly", as_of=today_in(settings.zone))["reasons"] == {"pool_none": 1}
    assert len(list(tmp_path.glob("*.png"))) == 3


def test_a_french_candidate_gets_the_french_page_that_fits_a_phone_and_unsubscribes(
    engine, settings, sent, browser, tmp_path: Path
) -> None:
    live, sink = sent
    lea = builders.candidate(engine, locale="fr", first_name="Léa", status="active")
    nurture(cadence="weekly", as_of=today_in(settings.zone))
    link, unsubscribe = received_links(sink, email_of(engine, lea))

    phone = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    phone.goto(link)
    assert phone.locator("html").get_attribute("lang") == "fr"
    assert phone.get_by_role("heading", level=1).inner_text() == "Vos préférences"
    assert phone.get_by_label("Chaque semaine").is_checked()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.screenshot(path=str(tmp_path / "1-telephone-preferences.png"), full_page=True)

    phone.goto(unsubscribe)  # opening the link asks, it does not unsubscribe
    assert rows(engine, Suppression) == []
    phone.screenshot(path=str(tmp_path / "2-telephone-unsubscribe.png"), full_page=True)
    phone.get_by_role("button", name="Me désabonner").click()
    phone.wait_for_selector("text=Vous êtes désabonné·e")
    phone.screenshot(path=str(tmp_path / "3-telephone-unsubscribed.png"), full_page=True)
    assert [row.reason for row in rows(engine, Suppression)] == ["unsubscribe"]
