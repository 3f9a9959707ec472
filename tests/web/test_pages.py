"""The preference page over real HTTP: language, saving, CSRF, headers, racing submits."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest

from app.web.headers import CONTENT_SECURITY_POLICY
from tests import builders
from tests.web.conftest import LiveServer, form_token, rows
from vivier.store.schema import Consent, Interaction, Preference

UA = {"user-agent": "Mozilla/5.0 (vivier tests)"}


def kinds(engine, candidate_id: int) -> list[str]:
    return [row.kind for row in rows(engine, Interaction, candidate_id=candidate_id)]


def test_the_preference_page_speaks_the_candidates_language(engine, live: LiveServer) -> None:
    french = builders.candidate(engine, locale="fr-FR", first_name="Éloïse")
    english = builders.candidate(engine, locale="en", first_name="James")
    page = live.client.get(live.link(french, "preferences"), headers={"accept-language": "en"})
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text and "Vos préférences" in page.text
    assert "Bonjour Éloïse," in page.text
    assert '<p class="team">L&#39;équipe talents</p>' in page.text  # the team, in French too
    page = live.client.get(live.link(english, "preferences"))
    assert '<html lang="en">' in page.text and "Hello James," in page.text
    assert '<p class="team">The talent team</p>' in page.text and "équipe" not in page.text


def test_the_form_is_accessible_every_input_has_a_label(engine, live: LiveServer) -> None:
    page = live.client.get(live.link(builders.candidate(engine), "preferences")).text
    inputs = re.findall(r'<input type="(?:radio|checkbox)" id="([^"]+)"', page)
    assert len(inputs) == 7  # consent yes/no, privileged, four frequencies
    for input_id in inputs:
        assert f'<label for="{input_id}">' in page
    assert page.count("<fieldset>") == page.count("<legend>") == 4
    for select_id in re.findall(r'<select id="([^"]+)"', page):
        assert f'<label for="{select_id}">' in page
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page


def test_saving_the_form_changes_the_choices_and_says_what_changed(engine, live: LiveServer) -> None:
    cid = builders.candidate(engine, status="active", locale="en")
    link = live.link(cid, "preferences")
    token = form_token(live.client.get(link).text)
    saved = live.client.post(link, headers=UA, data={
        "form_token": token, "consent": "yes", "frequency": "monthly", "privileged": "yes"})
    assert saved.status_code == 200
    assert "How often: once a month (before: every week)." in saved.text
    assert "You joined the privileged pool." in saved.text
    (preference,) = rows(engine, Preference, candidate_id=cid)
    assert (preference.frequency, preference.privileged) == ("monthly", True)
    assert kinds(engine, cid) == ["preference_changed", "preference_changed"]
    again = live.client.post(link, data={"form_token": token, "consent": "yes",
                                         "frequency": "monthly", "privileged": "yes"})
    assert "Nothing changed" in again.text and len(kinds(engine, cid)) == 2


def test_saying_no_records_the_withdrawal_with_its_evidence(engine, live: LiveServer) -> None:
    cid = builders.candidate(engine, locale="en")
    link = live.link(cid, "preferences")
    token = form_token(live.client.get(link).text)
    saved = live.client.post(link, headers=UA, data={"form_token": token, "consent": "no",
                                                     "privileged": "yes"})
    assert "You asked us not to write to you any more." in saved.text
    latest = rows(engine, Consent, candidate_id=cid)[-1]
    assert (latest.state, latest.source) == ("withdrawn", "preference_centre")
    assert latest.evidence["user_agent"] == UA["user-agent"]
    assert re.fullmatch(r"[0-9a-f]{16}", latest.evidence["token_id"])
    assert latest.evidence["token_id"] not in link  # an id of the link, not the link


def test_the_privileged_pool_without_consent_is_explained_not_saved(engine, live: LiveServer) -> None:
    cid = builders.candidate(engine, consent=None, locale="en")
    link = live.link(cid, "preferences")
    token = form_token(live.client.get(link).text)
    refused = live.client.post(link, data={"form_token": token, "privileged": "yes"})
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    assert "first answer “Yes”" in refused.text
    assert kinds(engine, cid) == []


def test_a_form_token_not_made_for_this_page_is_refused(engine, serve) -> None:
    victim, attacker = builders.candidate(engine), builders.candidate(engine)
    live = serve()
    stranger = serve(VIVIER_SECRET_KEY="someone-elses-key-0123456789abcdef0123")
    forgeries = {
        "missing": None,
        "garbage": "eyJhIjoxfQ.abc.def",
        "the attacker's own page": form_token(live.client.get(live.link(attacker, "preferences")).text),
        "another key": form_token(stranger.client.get(stranger.link(victim, "preferences")).text),
    }
    for name, forged in forgeries.items():
        data = {"consent": "no", "frequency": "none"}
        if forged is not None:
            data["form_token"] = forged
        refused = live.client.post(live.link(victim, "preferences"), data=data)
        assert refused.status_code == 403, name
        assert "the form did not come from this page" in refused.text, name
    assert kinds(engine, victim) == [] and rows(engine, Preference) == []


def test_a_form_left_open_too_long_is_refused(engine, live: LiveServer, monkeypatch) -> None:
    cid = builders.candidate(engine, locale="en")
    link = live.link(cid, "preferences")
    token = form_token(live.client.get(link).text)
    later = time.time() + (live.settings.form_token_minutes + 1) * 60
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    refused = live.client.post(link, data={"form_token": token, "frequency": "none"})
    assert refused.status_code == 403 and "stayed open too long" in refused.text
    assert kinds(engine, cid) == []


def test_an_unknown_choice_is_refused_and_changes_nothing(engine, live: LiveServer) -> None:
    cid = builders.candidate(engine)
    link = live.link(cid, "preferences")
    token = form_token(live.client.get(link).text)
    refused = live.client.post(link, data={"form_token": token, "frequency": "daily"})
    assert refused.status_code == 400 and kinds(engine, cid) == []


@pytest.mark.both_dialects  # racing writers, per dialect
def test_racing_double_submits_of_one_form_record_one_change(engine, live: LiveServer) -> None:
    cid = builders.candidate(engine, status="active", locale="en")
    link = live.link(cid, "preferences")
    data = {"form_token": form_token(live.client.get(link).text), "consent": "yes",
            "frequency": "quarterly"}
    start, pages = threading.Barrier(2), []

    def submit() -> None:
        with httpx.Client(base_url=live.url, timeout=30) as client:
            start.wait()
            pages.append(client.post(link, data=data))

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(page.status_code for page in pages) == [200, 200]
    assert sum("How often" in page.text for page in pages) == 1
    assert kinds(engine, cid) == ["preference_changed"]


def test_every_page_sends_the_security_headers_and_loads_nothing_external(
    engine, live: LiveServer
) -> None:
    cid = builders.candidate(engine)
    for response in (live.client.get(live.link(cid, "preferences")),
                     live.client.get(live.link(cid, "unsubscribe")),
                     live.client.get("/p/not-a-token"), live.client.get("/nowhere")):
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
        assert "set-cookie" not in response.headers
        assert not re.search(r'(src|href)="(https?:)?//', response.text)
    assert live.client.get("/nowhere").status_code == 404
    stylesheet = live.client.get("/assets/vivier.css")
    assert stylesheet.status_code == 200 and stylesheet.headers["content-type"].startswith("text/css")


def test_a_bug_behind_a_page_is_a_500_page_with_the_headers_and_nothing_personal_logged(
    engine, live: LiveServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cid = builders.candidate(engine, locale="en")
    address = "jane.doe@" + "example.org"  # a row's value, not a line of code the log may show

    def choke(*args: object) -> None:
        raise KeyError(address)

    monkeypatch.setattr("app.web.preference_routes.read_state", choke)
    page = live.client.get(live.link(cid, "preferences"))
    assert page.status_code == 500 and "Something went wrong on our side" in page.text
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "GET /p/… failed with KeyError" in caplog.text
    assert "jane.doe" not in page.text + caplog.text and "Traceback" not in caplog.text
