"""RFC 8058 one-click unsubscribe: the POST alone unsubscribes, at once; a GET never does."""

from __future__ import annotations

import httpx
import pytest

from flows.nurture import nurture
from tests import builders
from tests.web.conftest import LiveServer, rows
from vivier.rules.cadences import today_in
from vivier.rules.identity import email_hash
from vivier.store.schema import Candidate, Consent, Decision, Interaction, Suppression

ONE_CLICK_BODY = b"List-Unsubscribe=One-Click"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def one_click(live: LiveServer, path: str, **headers: str) -> httpx.Response:
    """The request a mailbox provider makes: a bare POST, no cookie, no session, no referrer."""
    with httpx.Client(base_url=live.url, timeout=30) as provider:
        return provider.post(path, content=ONE_CLICK_BODY, headers={**FORM, **headers})


@pytest.mark.usefixtures("catalog")
@pytest.mark.usefixtures("prefect_harness")
def test_one_click_unsubscribes_at_once_and_the_next_run_excludes_the_candidate(
    engine, settings, live: LiveServer
) -> None:
    leaving, staying = builders.candidate(engine), builders.candidate(engine)
    response = one_click(live, live.link(leaving, "unsubscribe"), **{"user-agent": "GoogleOneClick/1.0"})
    assert response.status_code == 200
    assert "cookie" not in response.request.headers and "set-cookie" not in response.headers

    (suppression,) = rows(engine, Suppression)
    with engine.connect() as conn:
        address = conn.scalar(Candidate.__table__.select().with_only_columns(Candidate.email)
                              .where(Candidate.id == leaving))
    assert (suppression.email_hash, suppression.reason) == (email_hash(address), "unsubscribe")
    withdrawn = rows(engine, Consent, candidate_id=leaving)[-1]
    assert (withdrawn.state, withdrawn.source) == ("withdrawn", "one_click")
    assert withdrawn.evidence["user_agent"] == "GoogleOneClick/1.0"
    assert [row.kind for row in rows(engine, Interaction, candidate_id=leaving)] == [
        "consent_withdrawn", "unsubscribed"]

    summary = nurture(cadence="weekly", as_of=today_in(settings.zone))
    assert summary["stages"]["sent"] == 1
    assert {row.candidate_id: row.reason for row in rows(engine, Decision)} == {leaving: "suppressed"}
    assert [row.candidate_id for row in rows(engine, Interaction, kind="message_sent")] == [staying]


def test_opening_the_unsubscribe_link_only_asks_to_confirm(engine, live: LiveServer) -> None:
    cid = builders.candidate(engine, locale="en")
    for _ in range(3):  # a mail scanner prefetching the link, then the person
        page = live.client.get(live.link(cid, "unsubscribe"))
        assert page.status_code == 200
        assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page.text
    assert rows(engine, Suppression) == [] and rows(engine, Interaction) == []
    assert len(rows(engine, Consent, candidate_id=cid)) == 1


def test_the_confirmation_button_unsubscribes_and_points_to_the_messages_preference_link(
    engine, live: LiveServer
) -> None:
    cid = builders.candidate(engine, locale="en")
    done = live.client.post(live.link(cid, "unsubscribe"),
                            data={"List-Unsubscribe": "One-Click", "via": "page"})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert "/p/" not in done.text  # the unsubscribe link alone never leads to a consent form
    assert "“Choose how often you hear from us” link at the bottom" in done.text
    assert rows(engine, Consent, candidate_id=cid)[-1].source == "preference_centre"


def test_a_multipart_one_click_body_is_accepted_too(engine, live: LiveServer) -> None:
    cid = builders.candidate(engine)
    response = live.client.post(live.link(cid, "unsubscribe"),
                                files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200 and len(rows(engine, Suppression)) == 1


@pytest.mark.parametrize("body", [b"", b"List-Unsubscribe=Yes", b'{"List-Unsubscribe": "One-Click"}'])
def test_a_post_without_the_one_click_body_changes_nothing(engine, live: LiveServer, body: bytes) -> None:
    cid = builders.candidate(engine)
    response = live.client.post(live.link(cid, "unsubscribe"), content=body, headers=FORM)
    assert response.status_code == 400
    assert rows(engine, Suppression) == [] and rows(engine, Interaction) == []


def test_a_repeated_one_click_is_recorded_once(engine, live: LiveServer) -> None:
    cid = builders.candidate(engine)
    link = live.link(cid, "unsubscribe")
    assert [one_click(live, link).status_code for _ in range(3)] == [200, 200, 200]
    assert len(rows(engine, Suppression)) == 1
    assert [row.kind for row in rows(engine, Interaction, candidate_id=cid)] == [
        "consent_withdrawn", "unsubscribed"]
