"""`POST /hooks/events`: signed provider events in, each once; anything wrong records nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.web.headers import HEADERS
from tests import builders
from tests.test_events import WHEN, sent
from tests.web.conftest import LiveServer, rows
from vivier.store.schema import Consent, Interaction, Suppression

SECRET = "whsec-test-0123456789"


def signed(body: bytes, secret: str = SECRET, source: str | None = None) -> dict[str, str]:
    """The provider's header: HMAC of the body, or of `<source>:<body>` for a named source."""
    message = body if source is None else source.encode() + b":" + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {"X-Vivier-Signature": f"sha256={digest}", "content-type": "application/json"}


def post(live: LiveServer, payload: Any, headers: dict[str, str] | None = None,
         source: str | None = None) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return live.client.post("/hooks/events", content=body,
                            params={} if source is None else {"source": source},
                            headers=signed(body, source=source) if headers is None else headers)


def has_security_headers(response: httpx.Response) -> bool:
    return all(response.headers.get(name) == value for name, value in HEADERS.items())


def an_event(message_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": "delivered", "message_id": message_id, "occurred_at": WHEN.isoformat(), **fields}


@pytest.fixture
def hook(serve: Callable[..., LiveServer]) -> LiveServer:
    return serve(VIVIER_WEBHOOK_SECRET=SECRET)


def test_a_signed_batch_is_recorded_and_counted(engine, hook: LiveServer) -> None:
    cid = builders.candidate(engine)
    message_id = sent(engine, cid)
    payload = [an_event(message_id, id="e1"), an_event(message_id, id="e2", type="opened"),
               an_event("<unknown@elsewhere.example>", id="e3")]
    response = post(hook, payload)
    assert response.status_code == 200, response.text
    assert response.json() == {"recorded": 3, "duplicates": 0, "orphans": 1, "suppressed": 0,
                               "withdrawn": 0}
    assert [row.kind for row in rows(engine, Interaction, candidate_id=cid)] == ["delivered", "opened"]


def test_the_same_payload_posted_twice_is_recorded_once(engine, hook: LiveServer) -> None:
    payload = {"events": [an_event(sent(engine, builders.candidate(engine)))]}  # the object form
    assert post(hook, payload).json()["recorded"] == 1
    assert post(hook, payload).json() == {"recorded": 0, "duplicates": 1, "orphans": 0,
                                          "suppressed": 0, "withdrawn": 0}
    assert len(rows(engine, Interaction)) == 1


def test_a_complaint_suppresses_and_withdraws_consent(engine, hook: LiveServer) -> None:
    cid = builders.candidate(engine)
    response = post(hook, [an_event(sent(engine, cid), type="complained")])
    assert response.json()["withdrawn"] == 1
    assert rows(engine, Consent, candidate_id=cid)[-1].state == "withdrawn"
    assert [row.reason for row in rows(engine, Suppression)] == ["complaint"]


BAD_SIGNATURES = {
    "wrong digest": {"X-Vivier-Signature": "sha256=" + "0" * 64},
    "another body's": signed(b"another body"),
    "another secret's": signed(b'[{"type": "delivered"}]', secret="not-the-secret"),
    "no sha256= prefix": {"X-Vivier-Signature": "deadbeef"},
    "missing": {},
}


def test_a_bad_or_missing_signature_is_refused_and_nothing_recorded(engine, hook: LiveServer) -> None:
    payload = [an_event(sent(engine, builders.candidate(engine)))]
    for case, headers in BAD_SIGNATURES.items():
        response = post(hook, payload, headers=headers)
        assert response.status_code == 401, case
        assert "X-Vivier-Signature" in response.json()["error"]
    assert rows(engine, Interaction) == []


def test_without_a_secret_the_hook_refuses_and_names_the_variable(engine, live: LiveServer) -> None:
    response = post(live, [an_event("<m@vivier.example>")])
    assert response.status_code == 503
    assert "VIVIER_WEBHOOK_SECRET" in response.json()["error"]
    assert rows(engine, Interaction) == []


MALFORMED = {  # payload, the field named in the one problem (None: the whole body is refused)
    "not JSON": (b"{not json", None),
    "not a list": ({"type": "delivered"}, None),
    "unknown type": ({"type": "unsubscribed"}, "type"),
    "bounced without bounce_type": ({"type": "bounced"}, "event"),
    "naive date": ({"occurred_at": "2026-11-23T09:30:00"}, "occurred_at"),
}


def test_a_malformed_payload_is_refused_with_reasons_and_nothing_recorded(engine, hook: LiveServer) -> None:
    message_id = sent(engine, builders.candidate(engine))
    for case, (payload, problem) in MALFORMED.items():
        if problem is not None:  # one good event first: it must not be recorded either
            payload = [an_event(message_id, id="good"),
                       {**an_event(message_id, recipient="private@example.org"), **payload}]
        response = post(hook, payload)
        assert response.status_code == 422, case
        body = response.json()
        assert body["error"].startswith("nothing was recorded"), case
        if problem is not None:
            assert [(p["index"], p["field"]) for p in body["problems"]] == [(1, problem)], case
            assert all(p["message"] for p in body["problems"])
        assert "private@example.org" not in response.text
    assert rows(engine, Interaction) == []


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_a_payload_over_the_size_limit_is_refused(engine, hook: LiveServer, chunked: bool) -> None:
    body = b"[" + b" " * 1_000_001 + b"]"
    content = (body[n:n + 65_536] for n in range(0, len(body), 65_536)) if chunked else body
    response = hook.client.post("/hooks/events", content=content, headers=signed(body))
    assert response.status_code == 413
    assert rows(engine, Interaction) == []


def test_a_payload_signed_for_one_source_cannot_be_replayed_under_another(engine, hook: LiveServer) -> None:
    payload = json.dumps([an_event(sent(engine, builders.candidate(engine)), id="evt-1")]).encode()
    for_postmark, for_default = signed(payload, source="postmark"), signed(payload)
    replays = {"default as postmark": ("postmark", for_default), "postmark as default": (None, for_postmark),
               "postmark as esp": ("esp", for_postmark), "postmark as mailgun": ("mailgun", for_postmark)}
    for case, (source, headers) in replays.items():
        assert post(hook, payload, headers=headers, source=source).status_code == 401, case
    assert rows(engine, Interaction) == []
    assert post(hook, payload, source="postmark").json()["recorded"] == 1
    assert post(hook, payload).json()["recorded"] == 1  # signed for the default: its own namespace
    again = post(hook, payload, headers=for_default, source="esp")  # esp is the default: same bytes signed
    assert again.json()["duplicates"] == 1
    assert sorted(row.event_key for row in rows(engine, Interaction)) == ["esp:evt-1", "postmark:evt-1"]


def test_a_whitespace_only_secret_counts_as_unset(engine, serve: Callable[..., LiveServer]) -> None:
    blank = serve(VIVIER_WEBHOOK_SECRET=" \t ")
    body = json.dumps([an_event("<m@vivier.example>")]).encode()
    response = blank.client.post("/hooks/events", content=body, headers=signed(body, secret=" \t "))
    assert response.status_code == 503 and "VIVIER_WEBHOOK_SECRET" in response.json()["error"]
    assert rows(engine, Interaction) == []


NESTED = {
    "unclosed": b"[" * 100_000,
    "closed": b'{"events": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "inside an event": b'[{"type": "delivered", "x": ' + b'{"a": ' * 30_000 + b"1" + b"}" * 30_001 + b"]",
}


@pytest.mark.parametrize("body", NESTED.values(), ids=NESTED.keys())
def test_deeply_nested_json_is_refused_as_json_with_the_security_headers(
    engine, hook: LiveServer, body: bytes
) -> None:
    response = post(hook, body)
    assert response.status_code == 422 and "nested too deeply" in response.json()["error"]
    assert has_security_headers(response)
    assert rows(engine, Interaction) == []


@pytest.mark.parametrize("body", [b"\xff\xfe[", b'["\xff"]', b"[" + b"9" * 5000 + b"]",
                                  b'[{"type": "delivered", "message_id": "<\\ud800@x>"}]'],
                         ids=["not UTF-8", "bad byte in a string", "a 5000-digit number", "lone surrogate"])
def test_a_body_that_is_not_usable_json_gets_422_without_its_content(hook: LiveServer, body: bytes) -> None:
    response = post(hook, body)
    assert response.status_code == 422 and response.json()["error"].startswith("nothing was recorded")
    assert "\\xff" not in response.text and "9999" not in response.text and "d800" not in response.text


EDGE_DATES = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
              "9999-12-31T23:59:59Z"]


def test_a_date_at_the_calendars_edge_gets_422_naming_the_event(engine, hook: LiveServer) -> None:
    message_id = sent(engine, builders.candidate(engine))
    for edge in EDGE_DATES:
        response = post(hook, [an_event(message_id), an_event(message_id, occurred_at=edge)])
        assert response.status_code == 422, (edge, response.text)
        assert [(p["index"], p["field"]) for p in response.json()["problems"]] == [(1, "occurred_at")], edge
        assert has_security_headers(response)
    assert rows(engine, Interaction) == []


PRIVATE = "private.person@example.org"


def test_a_bug_while_reading_an_event_is_a_500_naming_the_event_and_the_type_only(
    engine, hook: LiveServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from vivier.imports import events

    def choke(items: list[Any]) -> Any:
        if items[0].get("recipient") == PRIVATE:
            raise OverflowError(f"cannot read {items[0]}")
        return events.parse_events(items)

    monkeypatch.setattr("app.web.hook_routes.parse_events", choke)
    caplog.set_level(logging.DEBUG)
    message_id = sent(engine, builders.candidate(engine))
    response = post(hook, [an_event(message_id), an_event(message_id, recipient=PRIVATE)])
    assert response.status_code == 500 and has_security_headers(response)
    assert response.json()["index"] == 1 and "OverflowError" in response.json()["error"]
    assert "reading event 1 failed with OverflowError" in caplog.text
    assert PRIVATE not in response.text + caplog.text and "Traceback" not in caplog.text
    assert rows(engine, Interaction) == []


def test_a_bug_while_recording_is_a_500_with_the_headers_and_nothing_personal_logged(
    engine, hook: LiveServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def choke(*args: Any) -> Any:
        raise RuntimeError(f"constraint failed for {PRIVATE}")

    monkeypatch.setattr("app.web.hook_routes.ingest", choke)
    caplog.set_level(logging.DEBUG)
    response = post(hook, [an_event("<m@vivier.example>", recipient=PRIVATE)])
    assert response.status_code == 500 and has_security_headers(response)
    assert response.json()["error"].startswith("unexpected RuntimeError")
    assert "POST /hooks/events failed with RuntimeError" in caplog.text
    assert PRIVATE not in response.text + caplog.text and "Traceback" not in caplog.text
