"""Links die at their age limit, whatever was visited: no page hands out a younger link.

A page that minted a fresh token at each visit would restart the age limit every time,
so a link could be kept alive forever by opening it once in a while. And the unsubscribe
link, which mailbox providers keep from the List-Unsubscribe header, must not lead to the
page where consent is given.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests import builders
from tests.web.conftest import LiveServer, form_token, rows
from vivier.store.schema import Consent, Interaction, Suppression

DAY = 86_400
ONE_CLICK = {"List-Unsubscribe": "One-Click"}
LINK = re.compile(r'(?:href|action)="(/[pu]/[^"/?#]+)')


def links_in(response: httpx.Response) -> set[str]:
    """Every preference or unsubscribe link a page offers (to follow or to post to)."""
    return set(LINK.findall(response.text))


def days_later(monkeypatch: pytest.MonkeyPatch, days: float) -> None:
    """Move the clock that signs and checks links (and form tokens) `days` ahead of now."""
    later = time.time() + days * DAY
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)


def every_page(live: LiveServer, cid: int) -> dict[str, httpx.Response]:
    """Each page a candidate can reach from the two links of a message, by what was done."""
    preferences, unsubscribe = live.link(cid, "preferences"), live.link(cid, "unsubscribe")
    page = live.client.get(preferences)
    return {
        "preference page": page,
        "saved": live.client.post(preferences, data={"form_token": form_token(page.text),
                                                     "frequency": "monthly"}),
        "unsubscribe page": live.client.get(unsubscribe),
        "one-click": live.client.post(unsubscribe, data=ONE_CLICK),
        "confirmed": live.client.post(unsubscribe, data={**ONE_CLICK, "via": "page"}),
        "unsubscribed from the preference page": live.client.post(
            f"{preferences}/unsubscribe", data={"form_token": form_token(page.text)}),
    }


def test_no_page_offers_a_link_other_than_the_one_that_opened_it(engine, live: LiveServer) -> None:
    cid = builders.candidate(engine, locale="en")
    for what, response in every_page(live, cid).items():
        assert response.status_code == 200, what
        opened_with = response.request.url.path.removesuffix("/unsubscribe")
        assert links_in(response) <= {opened_with}, what


def test_the_unsubscribe_link_alone_never_leads_to_the_page_that_gives_consent(
    engine, live: LiveServer
) -> None:
    cid = builders.candidate(engine, locale="fr")
    pages = every_page(live, cid)
    for what in ("unsubscribe page", "one-click", "confirmed"):
        assert "/p/" not in pages[what].text, what
    assert "Choisir la fréquence de nos messages" in pages["unsubscribe page"].text


def test_a_link_opened_often_still_dies_at_its_age_limit(
    engine, live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = builders.candidate(engine, locale="en")
    preferences, unsubscribe = live.link(cid, "preferences"), live.link(cid, "unsubscribe")
    offered: set[str] = {preferences, unsubscribe}
    for day in (30, 60, live.settings.preferences_link_days - 1):  # a faithful reader, every month
        days_later(monkeypatch, day)
        for link in list(offered):
            offered |= links_in(live.client.get(link))
    assert offered == {preferences, unsubscribe}
    days_later(monkeypatch, max(live.settings.preferences_link_days,
                                live.settings.unsubscribe_link_days) + 1)
    for link in offered:
        response = live.client.get(link)
        assert response.status_code == 400 and "too old" in response.text, link


def test_unsubscribing_from_the_preference_page_is_form_checked_and_offers_the_same_link_back(
    engine, live: LiveServer
) -> None:
    cid = builders.candidate(engine, locale="en")
    preferences = live.link(cid, "preferences")
    refused = live.client.post(f"{preferences}/unsubscribe", data={"form_token": "forged"})
    assert refused.status_code == 403
    assert rows(engine, Suppression) == [] and rows(engine, Interaction, candidate_id=cid) == []

    page = live.client.get(preferences)
    done = live.client.post(f"{preferences}/unsubscribe", data={"form_token": form_token(page.text)})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert links_in(done) == {preferences}
    assert [row.reason for row in rows(engine, Suppression)] == ["unsubscribe"]
    assert rows(engine, Consent, candidate_id=cid)[-1].source == "preference_centre"


def test_the_way_back_after_an_unsubscribe_keeps_the_preference_links_own_age_limit(
    engine, live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = builders.candidate(engine, locale="en")
    preferences = live.link(cid, "preferences")
    page = live.client.get(preferences)
    live.client.post(f"{preferences}/unsubscribe", data={"form_token": form_token(page.text)})
    days_later(monkeypatch, live.settings.preferences_link_days + 1)
    back = live.client.get(preferences)
    assert back.status_code == 400 and "too old" in back.text
    assert rows(engine, Consent, candidate_id=cid)[-1].state == "withdrawn"
