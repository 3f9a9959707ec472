"""Property: whatever a correctly signed body holds, the hook answers 2xx or 4xx, never 500.

And nothing it was sent comes back, in the answer or in the logs: the hook says which
event and field is wrong, never the value (a recipient, a date, an id may be personal).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.web.conftest import LiveServer
from tests.web.test_hooks import SECRET, has_security_headers, signed
from vivier.imports.events import EVENT_TYPES

FIELDS = ("type", "message_id", "occurred_at", "id", "bounce_type", "url", "recipient")
# Words the hook may say itself: a generated value equal to one of them proves nothing.
VOCABULARY = {*FIELDS, *EVENT_TYPES, "events", "hard", "soft", "recorded", "duplicates", "orphans",
              "suppressed", "withdrawn", "nothing was recorded"}
SHORTEST_CHECKED = 6  # shorter values ("a", "12") turn up in any sentence by chance

OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-14)),
                           timezone(timedelta(hours=5, minutes=30)), None])
EDGE_DATES = st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59Z",
                              "0001-01-01T00:00:00+14:00", "2026-02-30T10:00:00Z", "2026-11-23T24:00:00Z"])
DATES = st.one_of(  # the calendar's edges weigh as much as every other date together
    EDGE_DATES,
    st.one_of(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59),
                           timezones=OFFSETS).map(datetime.isoformat),
              st.integers(min_value=-(10**20), max_value=10**20), st.floats()),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40), DATES)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=8,
)
EVENTS = st.fixed_dictionaries(
    {"type": st.sampled_from(EVENT_TYPES) | JSON_VALUES, "occurred_at": DATES | JSON_VALUES},
    optional={
        "message_id": st.text(min_size=1, max_size=80).map(lambda v: f"<{v}@vivier.example>") | JSON_VALUES,
        "id": st.text(max_size=60) | JSON_VALUES,
        "bounce_type": st.sampled_from(["hard", "soft"]) | JSON_VALUES,
        "url": st.text(max_size=60).map(lambda v: f"https://jobs.example/{v}") | JSON_VALUES,
        "recipient": st.emails() | JSON_VALUES,
        "extra": JSON_VALUES,
    },
)
PAYLOADS = st.one_of(st.lists(EVENTS, min_size=1, max_size=4),
                     st.fixed_dictionaries({"events": st.lists(EVENTS, max_size=4)}), JSON_VALUES)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """A body and the generated strings that must not come back (none for raw bytes)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300)), []
    payload = draw(PAYLOADS)
    text = json.dumps(payload, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass"), sorted(set(strings_in(payload)))


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if len(value.strip()) >= SHORTEST_CHECKED and value not in VOCABULARY:
            yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


@pytest.fixture
def hook(serve: Callable[..., LiveServer]) -> LiveServer:
    return serve(VIVIER_WEBHOOK_SECRET=SECRET)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies())
def test_any_signed_body_gets_a_2xx_or_4xx_that_quotes_nothing_it_was_sent(
    hook: LiveServer, caplog: pytest.LogCaptureFixture, body: tuple[bytes, list[str]]
) -> None:
    raw, generated = body
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        response = hook.client.post("/hooks/events", content=raw, headers=signed(raw))
    event(f"answered {response.status_code}")  # pytest --hypothesis-show-statistics
    assert 200 <= response.status_code < 500, response.text
    assert has_security_headers(response)
    answer = json.dumps(response.json(), ensure_ascii=False)  # a \u escape hides nothing
    server_log = [record for record in caplog.records if not record.name.startswith(("httpx", "httpcore"))]
    said = "\n".join([response.text, answer, *(record.getMessage() for record in server_log)])
    for value in generated:
        assert value not in said, f"{value!r} came back"
    assert not [record for record in server_log if record.levelno >= logging.ERROR or record.exc_info]
