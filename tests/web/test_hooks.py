"""`POST /hooks/events`: signed provider events in, each once; anything wrong records nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests import builders
from tests.test_events import WHEN, sent
from tests.web.conftest import LiveServer, rows
from vivier.store.schema import Consent, Interaction, Suppression

SECRET = "whsec-test-0123456789"


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Vivier-Signature": f"sha256={digest}", "content-type": "application/json"}


def post(live: LiveServer, payload: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return live.client.post("/hooks/events", content=body,
                            headers=signed(body) if headers is None else headers)


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
