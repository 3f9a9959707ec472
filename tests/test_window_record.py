"""A send window's record and the next window's claim: one statement on PostgreSQL (its rows as
JSON, on a connection held for the batch in autocommit), a transaction of several on SQLite.
Both write the same ledger, interactions (their details as the same text), send items,
suppressions and last contacts, and each claim is committed before its message leaves."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from testing.smtp import SmtpSink
from tests import builders
from vivier.pipeline.resources import Resources, using
from vivier.pipeline.run import RunStopped, run_period
from vivier.rules.cadences import today_in
from vivier.rules.identity import email_hash
from vivier.settings import load_settings
from vivier.store.schema import Candidate, Interaction, Send

pytestmark = [pytest.mark.both_dialects, pytest.mark.smtp, pytest.mark.usefixtures("catalog")]

WINDOW = 3  # several windows for a handful of candidates


def smtp_resources(db_url: str, tmp_path: Path, port: int) -> Resources:
    return Resources.build(load_settings(
        database_url=db_url, transport="smtp", smtp_host="127.0.0.1", smtp_port=port,
        smtp_tls="plain", smtp_connections=1, send_window=WINDOW, samples_dir=tmp_path / "samples",
        batch_size=1000, secret_key="test-secret-key-of-at-least-32-bytes", **builders.ALWAYS_OPEN))


def test_a_window_records_every_outcome_and_claims_before_sending(engine, db_url, tmp_path) -> None:
    ids = [builders.candidate(engine) for _ in range(8)]
    refused = ids[4]
    with engine.connect() as conn:
        address = conn.scalar(sa.select(Candidate.email).where(Candidate.id == refused))
    # What another connection sees when each MAIL FROM reaches the server: the message was
    # claimed (with its Message-ID) and committed before it left; no window is still unrecorded
    # but the one on the wire.
    seen: list[tuple[int, int, int]] = []
    lock = threading.Lock()

    def observe(command: str, number: int) -> None:
        if command != "MAIL":
            return
        with engine.connect() as conn:
            taken = conn.scalar(sa.select(sa.func.count()).select_from(Send).where(
                Send.status != "pending", Send.message_id.is_not(None)))
            sending = conn.scalar(sa.select(sa.func.count()).select_from(Send).where(
                Send.status == "sending"))
        with lock:
            seen.append((number, int(taken or 0), int(sending or 0)))

    with SmtpSink(refuse_rcpt={address: 550}, on_command=observe) as sink:
        resources = smtp_resources(db_url, tmp_path, sink.port)
        with using(resources):
            summary = run_period(resources, "weekly", today_in(resources.settings.zone))
    assert summary.tally.stages["sent"] == len(ids) - 1
    assert summary.tally.stages["hard_bounce"] == 1
    assert [number for number, *_ in seen] == list(range(1, len(ids) + 1))
    assert all(taken >= number for number, taken, _ in seen)
    assert all(sending <= WINDOW for *_, sending in seen)

    with engine.connect() as conn:
        sends = {row.candidate_id: row for row in conn.execute(sa.select(
            Send.id, Send.candidate_id, Send.status, Send.message_id, Send.error, Send.sent_at,
            Send.segment, Send.template, Send.attempts))}
        events = {row.send_id: row for row in conn.execute(sa.select(
            Interaction.send_id, Interaction.candidate_id, Interaction.kind, Interaction.cadence,
            Interaction.period_key, Interaction.occurred_at,
            sa.cast(Interaction.details, sa.Text).label("details")))}  # as stored
        contacted = dict(conn.execute(sa.select(Candidate.id, Candidate.last_contacted_at)).all())
        changed = set(conn.execute(sa.select(Candidate.updated_at)).scalars())
        items = conn.execute(sa.text("SELECT send_id, kind, item_id FROM send_items")).all()
        suppressed = conn.execute(sa.text(
            "SELECT email_hash, reason, source FROM suppressions")).all()

    assert {cid: row.status for cid, row in sends.items()} == {
        **dict.fromkeys(ids, "sent"), refused: "failed"}
    assert all(row.message_id and row.attempts == 1 for row in sends.values())
    assert len(events) == len(ids)  # one each: message_sent, or bounced
    for candidate_id, send in sends.items():
        event = events[send.id]
        assert (event.candidate_id, event.cadence, event.period_key) == (
            candidate_id, "weekly", summary.period_key)
        if candidate_id == refused:
            assert event.kind == "bounced"
            assert event.details == json.dumps({"type": "hard", "code": 550})  # the same text
            assert send.sent_at is None and "550" in send.error
            assert contacted[candidate_id] is None
            continue
        assert event.kind == "message_sent"
        assert event.details == json.dumps({"segment": send.segment, "template": send.template})
        assert send.sent_at == event.occurred_at == contacted[candidate_id]
    assert changed == {builders.LONG_AGO}  # a contact is not a change of the candidate's data
    shown = {send_id for send_id, *_ in items}
    assert shown == {sends[cid].id for cid in ids if cid != refused}  # each sent message showed some
    assert len(items) == len(set(items))
    assert suppressed == [(email_hash(address), "hard_bounce", "smtp")]


def test_a_stop_mid_window_records_what_left_and_hands_the_rest_back(engine, db_url, tmp_path) -> None:
    ids = [builders.candidate(engine) for _ in range(8)]
    # After the 4th message (the first of the second window), the server refuses every sender:
    # the 5th is never handed over and the run stops.
    with SmtpSink() as sink:
        def refuse_from_now_on(command: str, number: int) -> None:
            if command == "DATA" and number == 4:
                sink.refuse_mail = "554 5.7.1 Relay access denied"

        sink.on_command = refuse_from_now_on
        resources = smtp_resources(db_url, tmp_path, sink.port)
        with using(resources), pytest.raises(RunStopped, match="refuses every message"):
            run_period(resources, "weekly", today_in(resources.settings.zone))
    with engine.connect() as conn:
        ledger = dict(conn.execute(sa.select(Send.candidate_id, Send.status)).all())
        recorded = set(conn.execute(sa.select(Interaction.candidate_id).where(
            Interaction.kind == "message_sent")).scalars())
    assert ledger == {**dict.fromkeys(ids[:4], "sent"), **dict.fromkeys(ids[4:], "pending")}
    assert recorded == set(ids[:4])  # the window's sent message is recorded, the rest released


def test_delivery_reads_candidates_as_sqlalchemy_would(engine) -> None:
    from datetime import UTC, datetime, timedelta

    from vivier.pipeline import extract

    contacted = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    ids = [builders.candidate(engine, tags=["data", "remote"], last_contacted_at=contacted),
           builders.candidate(engine, privileged=True, last_applied_at=contacted - timedelta(days=3)),
           builders.candidate(engine, consent=None, first_name="Zoë")]
    with engine.connect() as conn:
        read = extract.read_candidates(conn, [*ids, 10**9])  # an id nobody has: left out
        query = extract._CANDIDATES.where(Candidate.id.in_(ids))  # SQLAlchemy's own rows
        expected = {row.id: dict(row._mapping) for row in conn.execute(query)}
    assert read == expected and set(read) == set(ids)
    first = read[ids[0]]
    assert first["last_contacted_at"] == contacted and first["last_contacted_at"].tzinfo is UTC
    assert first["tags"] == ["data", "remote"] and read[ids[1]]["privileged"] is True
