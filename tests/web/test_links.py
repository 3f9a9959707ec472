"""Links that cannot be honoured get a friendly 400 page and change nothing; rotation keeps links alive."""

from __future__ import annotations

import time

import pytest

from tests import builders
from tests.web.conftest import LiveServer, form_token, rows
from vivier.store.schema import Consent, Interaction, Suppression

ONE_CLICK = {"content-type": "application/x-www-form-urlencoded"}


def nothing_recorded(engine, candidate_id: int) -> bool:
    return (rows(engine, Interaction, candidate_id=candidate_id) == [] and rows(engine, Suppression) == []
            and len(rows(engine, Consent, candidate_id=candidate_id)) == 1)


def tampered(path: str) -> str:
    """Change one character inside the signature, as a mangled copy-paste would.

    Not the last one: its low bits are base64 padding, which decoding ignores.
    """
    swapped = "A" if path[-5] != "A" else "B"
    return path[:-5] + swapped + path[-4:]


@pytest.mark.parametrize(("purpose", "method"), [("preferences", "GET"), ("unsubscribe", "POST")])
def test_a_tampered_link_gets_a_friendly_400_and_changes_nothing(
    engine, live: LiveServer, purpose: str, method: str
) -> None:
    cid = builders.candidate(engine)
    response = live.client.request(method, tampered(live.link(cid, purpose)), headers=ONE_CLICK,
                                   content=b"List-Unsubscribe=One-Click")
    assert response.status_code == 400
    assert "This link is incomplete or was altered" in response.text
    assert nothing_recorded(engine, cid)


def test_an_expired_link_says_how_old_links_may_be(engine, live: LiveServer, monkeypatch) -> None:
    cid = builders.candidate(engine)
    link = live.link(cid, "unsubscribe")
    later = time.time() + (live.settings.unsubscribe_link_days + 1) * 86_400
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    response = live.client.post(link, headers=ONE_CLICK, content=b"List-Unsubscribe=One-Click")
    assert response.status_code == 400
    assert f"our links work for {live.settings.unsubscribe_link_days} days" in response.text
    assert nothing_recorded(engine, cid)


def test_unsubscribe_links_keep_working_for_sixty_days(engine, live: LiveServer, monkeypatch) -> None:
    cid = builders.candidate(engine)
    link = live.link(cid, "unsubscribe")
    later = time.time() + 60 * 86_400
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    assert live.client.post(link, headers=ONE_CLICK, content=b"List-Unsubscribe=One-Click").status_code == 200


def test_a_link_used_for_the_wrong_purpose_changes_nothing(engine, live: LiveServer) -> None:
    cid = builders.candidate(engine)
    preferences_token = live.link(cid, "preferences").removeprefix("/p/")
    response = live.client.post(f"/u/{preferences_token}", headers=ONE_CLICK,
                                content=b"List-Unsubscribe=One-Click")
    assert response.status_code == 400 and "meant for another page" in response.text
    assert nothing_recorded(engine, cid)


def test_a_link_signed_with_a_retired_key_still_works_after_rotation(engine, serve) -> None:
    cid = builders.candidate(engine, locale="en")
    old_key, new_key = "key-2025-0123456789abcdef0123456789", "key-2026-0123456789abcdef0123456789"
    before = serve(VIVIER_SECRET_KEY=old_key)
    old_link = before.link(cid, "preferences")
    after = serve(VIVIER_SECRET_KEY=new_key, VIVIER_OLD_SECRET_KEYS=f'["{old_key}"]')
    page = after.client.get(old_link)
    assert page.status_code == 200 and "Your preferences" in page.text
    saved = after.client.post(old_link, data={"form_token": form_token(page.text), "frequency": "none"})
    assert saved.status_code == 200
    forgotten = serve(VIVIER_SECRET_KEY=new_key, VIVIER_OLD_SECRET_KEYS="[]")
    assert forgotten.client.get(old_link).status_code == 400


def test_a_link_to_an_erased_profile_says_so_without_details(engine, live: LiveServer) -> None:
    from datetime import UTC, datetime

    cid = builders.candidate(engine, email=None, first_name=None, erased_at=datetime.now(UTC))
    page = live.client.get(live.link(cid, "preferences"))
    assert page.status_code == 400 and "no longer leads to a profile" in page.text
    # A mailbox provider's one-click request still gets its 200: the address is suppressed.
    assert live.client.post(live.link(cid, "unsubscribe"), headers=ONE_CLICK,
                            content=b"List-Unsubscribe=One-Click").status_code == 200


def test_error_pages_follow_the_browsers_language(live: LiveServer) -> None:
    page = live.client.get("/p/nonsense", headers={"accept-language": "de-DE, fr;q=0.8, en;q=0.5"})
    assert page.status_code == 400 and '<html lang="fr">' in page.text
    assert "Ce lien est incomplet" in page.text
