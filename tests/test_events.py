"""Provider events in: tied to the send by Message-ID, recorded once, with their effects once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tests import builders
from vivier.gdpr.anonymise import anonymise
from vivier.imports import events as events_module
from vivier.imports.events import ProviderEvent, ingest, parse_events
from vivier.messages.mime import message_id_for
from vivier.pipeline.plan import plan_batch
from vivier.pipeline.resources import Resources
from vivier.pipeline.runs import RunSpec, open_run
from vivier.rules.cadences import period_key, period_start, today_in
from vivier.rules.identity import email_hash
from vivier.store.schema import Candidate, Consent, Decision, Interaction, Preference, Send, Suppression

pytestmark = pytest.mark.both_dialects  # ingestion's dedupe and upserts, per dialect

WHEN = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def sent(engine: sa.Engine, candidate_id: int, period_key: str = "2026-W47") -> str:
    """A `sent` ledger row for the candidate; returns its Message-ID (as stored, with <>)."""
    message_id = message_id_for("weekly", period_key, candidate_id, "vivier.example")
    with engine.begin() as conn:
        conn.execute(sa.insert(Send), {
            "candidate_id": candidate_id, "cadence": "weekly", "period_key": period_key,
            "status": "sent", "segment": "default", "message_id": message_id, "attempts": 1,
            "sent_at": WHEN - timedelta(days=1)})
    return message_id


def event(type_: str, message_id: str, **fields: Any) -> ProviderEvent:
    return ProviderEvent.model_validate(
        {"type": type_, "message_id": message_id, "occurred_at": WHEN.isoformat(), **fields})


def rows(engine: sa.Engine, model: type, **where: Any) -> list[Any]:
    query = sa.select(model).order_by(*model.__table__.primary_key.columns)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    with Session(engine) as session:
        return list(session.scalars(query))


def address_of(engine: sa.Engine, candidate_id: int) -> str:
    with engine.connect() as conn:
        return conn.scalar(sa.select(Candidate.email).where(Candidate.id == candidate_id))


def test_an_event_is_tied_to_its_send_by_message_id_with_or_without_brackets(engine) -> None:
    cid = builders.candidate(engine)
    message_id = sent(engine, cid)
    result = ingest(engine, [event("delivered", message_id, id="d1"),
                             event("opened", message_id.strip("<>"), id="o1")], "esp")
    assert (result.recorded, result.orphans, result.duplicates) == (2, 0, 0)
    (send,) = rows(engine, Send)
    recorded = rows(engine, Interaction)
    assert [(row.kind, row.candidate_id, row.send_id, row.cadence, row.period_key)
            for row in recorded] == [("delivered", cid, send.id, "weekly", "2026-W47"),
                                     ("opened", cid, send.id, "weekly", "2026-W47")]
    assert [row.event_key for row in recorded] == ["esp:d1", "esp:o1"]
    assert recorded[0].occurred_at == WHEN


def test_the_same_event_twice_is_recorded_once(engine) -> None:
    message_id = sent(engine, builders.candidate(engine))
    with_id = event("clicked", message_id, id="evt-1", url="https://jobs.example.org/1")
    without_id = event("replied", message_id)  # keyed by a hash of its content
    first = ingest(engine, [with_id, without_id, without_id], "esp")
    again = ingest(engine, [with_id, event("replied", f"<{message_id.strip('<>')}>")], "esp")
    assert (first.recorded, first.duplicates) == (2, 1)
    assert (again.recorded, again.duplicates) == (0, 2)
    assert sorted(row.kind for row in rows(engine, Interaction)) == ["clicked", "replied"]


def test_duplicates_are_found_across_chunks_of_a_large_load(engine, monkeypatch) -> None:
    monkeypatch.setattr(events_module, "CHUNK_SIZE", 3)
    message_id = sent(engine, builders.candidate(engine))
    batch = [event("opened", message_id, id=f"o{n % 5}") for n in range(11)]
    result = ingest(engine, batch, "esp")
    assert (result.recorded, result.duplicates) == (5, 6)
    assert len(rows(engine, Interaction)) == 5


def test_an_unknown_message_id_is_recorded_as_an_orphan(engine) -> None:
    result = ingest(engine, [event("delivered", "<nobody.2026-W47.c9@elsewhere.example>")], "esp")
    assert (result.recorded, result.orphans) == (1, 1)
    (orphan,) = rows(engine, Interaction)
    assert (orphan.candidate_id, orphan.send_id, orphan.kind) == (None, None, "delivered")
    assert orphan.details == {"source": "esp", "orphan": True,
                              "message_id": "<nobody.2026-W47.c9@elsewhere.example>"}


def test_a_hard_bounce_suppresses_the_address_once(engine) -> None:
    cid = builders.candidate(engine)
    bounce = event("bounced", sent(engine, cid), id="b1", bounce_type="hard")
    assert ingest(engine, [bounce], "esp").suppressed == 1
    assert ingest(engine, [bounce], "esp").as_json() == {
        "recorded": 0, "duplicates": 1, "orphans": 0, "suppressed": 0, "withdrawn": 0}
    (suppression,) = rows(engine, Suppression)
    assert (suppression.email_hash, suppression.reason) == (email_hash(address_of(engine, cid)),
                                                            "hard_bounce")
    (recorded,) = rows(engine, Interaction)
    assert (recorded.kind, recorded.details) == ("bounced", {"source": "esp", "type": "hard"})


def test_a_soft_bounce_is_only_recorded(engine) -> None:
    cid = builders.candidate(engine)
    result = ingest(engine, [event("bounced", sent(engine, cid), bounce_type="soft")], "esp")
    assert (result.recorded, result.suppressed, result.withdrawn) == (1, 0, 0)
    assert rows(engine, Suppression) == []
    assert [row.state for row in rows(engine, Consent, candidate_id=cid)] == ["granted"]


def test_a_complaint_suppresses_the_address_and_withdraws_consent_once(engine) -> None:
    cid = builders.candidate(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(Preference), {"candidate_id": cid, "frequency": "weekly",
                                             "privileged": True, "source": "test"})
    complaint = event("complained", sent(engine, cid), id="c1")
    first = ingest(engine, [complaint], "esp")
    ingest(engine, [complaint], "esp")
    assert (first.suppressed, first.withdrawn) == (1, 1)
    assert [row.reason for row in rows(engine, Suppression)] == ["complaint"]
    consents = rows(engine, Consent, candidate_id=cid)
    assert [(row.state, row.source) for row in consents] == [
        ("granted", "test"), ("withdrawn", "provider-complaint")]
    assert consents[-1].recorded_at == WHEN
    assert rows(engine, Preference)[0].privileged is False  # withdrawing consent leaves the pool
    assert [row.kind for row in rows(engine, Interaction, candidate_id=cid)] == [
        "complained", "consent_withdrawn", "preference_changed"]


def test_an_orphan_hard_bounce_suppresses_its_recipient_by_hash_only(engine) -> None:
    bounce = event("bounced", "<old.id@vivier.example>", bounce_type="hard",
                   recipient=" Gone@Example.org ")
    assert ingest(engine, [bounce], "esp").suppressed == 1
    (suppression,) = rows(engine, Suppression)
    assert suppression.email_hash == email_hash("gone@example.org")
    (orphan,) = rows(engine, Interaction)
    assert "gone" not in str(orphan.details).lower()


def test_an_erased_candidates_event_keeps_only_its_link_to_the_send(engine) -> None:
    cid = builders.candidate(engine)
    message_id = sent(engine, cid)
    with engine.begin() as conn:
        anonymise(conn, [cid], source="request")
    result = ingest(engine, [event("clicked", message_id, url="https://jobs.example.org/9"),
                             event("complained", message_id)], "esp")
    assert (result.recorded, result.suppressed, result.withdrawn) == (2, 0, 0)
    recorded = rows(engine, Interaction, send_id=rows(engine, Send)[0].id)
    assert [(row.kind, row.details) for row in recorded] == [
        ("clicked", {"source": "esp"}), ("complained", {"source": "esp"})]
    assert [row.reason for row in rows(engine, Suppression)] == ["erasure"]


def test_a_click_keeps_our_url_but_never_a_link_token(engine) -> None:
    message_id = sent(engine, builders.candidate(engine))
    ingest(engine, [event("clicked", message_id, id="k1", url="https://vivier.example/p/SECRET.tok"),
                    event("clicked", message_id, id="k2", url="https://jobs.example.org/42?src=mail")],
           "esp")
    assert [row.details["url"] for row in rows(engine, Interaction)] == [
        "https://vivier.example/p/…", "https://jobs.example.org/42?src=mail"]


@pytest.mark.parametrize(("item", "field", "says"), [
    ({"type": "unsubscribed"}, "type", "Input should be"),
    ({"type": "bounced"}, "event", "bounce_type (hard or soft) is required"),
    ({"occurred_at": "2026-11-23T09:30:00"}, "occurred_at", "timezone"),
    ({"occurred_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, "occurred_at",
     "in the future"),
    ({"message_id": "<a b@example.org>"}, "message_id", "one Message-ID"),
    ({"message_id": "<x@example.org>\r\nBcc: z@example.org"}, "message_id", "control character"),
    ({"url": "javascript:alert(1)"}, "url", "http(s) link"),
])
def test_an_invalid_event_is_refused_with_its_field_and_reason(item, field, says) -> None:
    good = {"type": "opened", "message_id": "<m@vivier.example>", "occurred_at": WHEN.isoformat()}
    events, problems = parse_events([good, {**good, **item, "recipient": "private@example.org"}])
    assert len(events) == 1
    assert [(problem.index, problem.field) for problem in problems] == [(1, field)]
    assert says in problems[0].message
    assert "private@example.org" not in repr(problems)


def test_a_bare_or_bracketed_message_id_is_stored_in_the_ledger_form() -> None:
    assert event("opened", "abc@vivier.example").message_id == "<abc@vivier.example>"
    assert event("opened", "<abc@vivier.example>").message_id == "<abc@vivier.example>"
    assert "private" not in repr(event("opened", "a@b.example", recipient="private@example.org"))


@pytest.mark.usefixtures("catalog")
def test_a_hard_bounce_excludes_the_candidate_from_the_next_run_as_suppressed(engine, settings) -> None:
    bounced, fine = builders.candidate(engine), builders.candidate(engine)
    ingest(engine, [event("bounced", sent(engine, bounced), bounce_type="hard")], "esp")

    day = today_in(settings.zone)
    key = period_key("weekly", day)
    spec = RunSpec(run_id=open_run(engine, "weekly", key, False, None), cadence="weekly",
                   period_key=key, period_start=period_start("weekly", key), as_of=day)
    tally = plan_batch(Resources.build(settings), spec, 0, fine)
    assert tally.stages["planned"] == 1
    assert {row.candidate_id: row.reason for row in rows(engine, Decision)} == {bounced: "suppressed"}
    assert [row.candidate_id for row in rows(engine, Send, period_key=key)] == [fine]


@pytest.mark.parametrize("field", ["message_id", "id", "url", "recipient"])
def test_a_lone_surrogate_in_an_event_is_a_problem_of_that_event_not_a_crash(field: str) -> None:
    item = {"type": "clicked", "message_id": "<a@b.example>", "occurred_at": "2026-11-23T09:00:00Z",
            field: "x\ud800y" if field != "message_id" else "<x\ud800@b.example>"}
    parsed, problems = parse_events([{"type": "opened", "message_id": "<ok@b.example>",
                                      "occurred_at": "2026-11-23T09:00:00Z"}, item])
    assert len(parsed) == 1 and [problem.index for problem in problems] == [1]
    assert "\ud800" not in repr(problems)  # the value is never echoed
