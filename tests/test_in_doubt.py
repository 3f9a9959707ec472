"""In-doubt sends settle from evidence, and only what has none is offered for resend, one by one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import builders
from vivier.imports.events import ProviderEvent, ingest
from vivier.ledger import reconcile
from vivier.store.schema import Interaction, Run, Send, utcnow

pytestmark = pytest.mark.both_dialects

PERIOD = "2026-W48"


def _in_doubt(engine: sa.Engine, count: int, claimed_hours_ago: float = 1) -> dict[int, str]:
    """`count` sends left in doubt by a crash; candidate id -> the Message-ID its claim wrote."""
    now = utcnow()
    with engine.begin() as conn:
        run_id = conn.execute(sa.insert(Run).returning(Run.id), {
            "cadence": "weekly", "period_key": PERIOD, "dry_run": False, "state": "sending",
            "started_at": now, "heartbeat_at": now, "summary": {}}).scalar_one()
    rows = {}
    for _ in range(count):
        candidate_id = builders.candidate(engine)
        rows[candidate_id] = f"<weekly.{PERIOD}.c{candidate_id}@vivier.example>"
        with engine.begin() as conn:  # test data: written as a crash leaves it, not moved
            conn.execute(sa.insert(Send), {
                "candidate_id": candidate_id, "cadence": "weekly", "period_key": PERIOD,
                "status": "in_doubt", "run_id": run_id, "template": "weekly", "attempts": 1,
                "message_id": rows[candidate_id],
                "claimed_at": now - timedelta(hours=claimed_hours_ago)})
    return rows


def _statuses(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(Send.candidate_id, Send.status)).all())


def _evidence(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(Interaction.details).where(
            Interaction.kind == "in_doubt_reconciled")).scalars())


@pytest.mark.parametrize("kind", ["delivered", "bounced"])
def test_a_delivered_or_bounced_event_marks_its_in_doubt_send_sent(engine, kind) -> None:
    sends = _in_doubt(engine, 2)
    (first, second) = sends
    event = ProviderEvent(type=kind, message_id=sends[first], occurred_at=utcnow(), id="e1",
                          bounce_type="soft" if kind == "bounced" else None)
    ingest(engine, [event], "esp")
    assert _statuses(engine) == {first: "sent", second: "in_doubt"}
    assert _evidence(engine) == [{"evidence": kind, "event_key": "esp:e1"}]
    ingest(engine, [event], "esp")  # the same event again: nothing more
    assert len(_evidence(engine)) == 1


def test_an_opened_event_is_no_evidence_of_its_own(engine) -> None:
    sends = _in_doubt(engine, 1)
    (candidate,) = sends
    ingest(engine, [ProviderEvent(type="opened", message_id=sends[candidate], occurred_at=utcnow())],
           "esp")
    assert _statuses(engine) == {candidate: "in_doubt"}


@pytest.mark.parametrize("name", ["accepted.txt", "accepted.csv", "accepted.jsonl"])
def test_the_servers_accepted_id_log_marks_sent_what_it_accepted_and_nothing_else(
        engine, tmp_path: Path, name: str) -> None:
    sends = _in_doubt(engine, 3)
    arrived, by_log_line, missing = sends
    path = tmp_path / name
    if name.endswith(".csv"):
        path.write_text(f"queue_id,message_id\nA1,{sends[arrived]}\nA2,{sends[by_log_line][1:-1]}\n"
                        "A3,\n")
    elif name.endswith(".jsonl"):
        path.write_text(f'{{"message_id": "{sends[arrived]}"}}\n'
                        f'{{"message_id": "{sends[by_log_line]}"}}\nnot json\n')
    else:
        path.write_text(f"# accepted by the relay\n{sends[arrived]}\n\n"
                        f"Nov 26 09:00:01 mx postfix/cleanup[311]: 4F2A1: "
                        f"message-id={sends[by_log_line]}\nnot an id\n")
    accepted = reconcile.read_accepted_ids(path)
    assert len(accepted.rejected) == 1  # the line that holds no Message-ID, by number
    done = reconcile.from_accepted_ids(engine, "weekly", PERIOD, accepted.message_ids, name)
    assert done == sorted([arrived, by_log_line])
    assert _statuses(engine) == {arrived: "sent", by_log_line: "sent", missing: "in_doubt"}
    assert {details["file"] for details in _evidence(engine)} == {name}


def test_without_evidence_a_send_waits_then_is_offered_for_resend_one_candidate_at_a_time(
        engine, settings) -> None:
    old = _in_doubt(engine, 2, claimed_hours_ago=settings.in_doubt_evidence_hours + 1)
    young = _in_doubt(engine, 1, claimed_hours_ago=1)
    found = reconcile.in_doubt(engine, "weekly", PERIOD, settings.in_doubt_evidence_hours)
    assert found.resendable == sorted(old) and list(found.waiting) == list(young)
    chosen = [*list(old)[:1], *young]
    assert reconcile.resend_after_wait(engine, "weekly", PERIOD, chosen,
                                       settings.in_doubt_evidence_hours) == list(old)[:1]
    statuses = _statuses(engine)
    assert statuses[list(old)[0]] == "pending"  # only the one asked for, past its wait
    assert statuses[list(old)[1]] == statuses[list(young)[0]] == "in_doubt"


def test_an_event_that_came_while_the_claim_was_still_held_settles_it_once_in_doubt(engine) -> None:
    sends = _in_doubt(engine, 1)
    (candidate,) = sends
    with engine.begin() as conn:  # the sender died; the event comes before its claim expires
        conn.execute(sa.update(Send).values(status="sending"))
    ingest(engine, [ProviderEvent(type="delivered", message_id=sends[candidate],
                                  occurred_at=utcnow(), id="e7")], "esp")
    assert _statuses(engine) == {candidate: "sending"}  # not the event's to move
    with engine.begin() as conn:
        conn.execute(sa.update(Send).values(status="in_doubt"))  # the lease expired
    found = reconcile.in_doubt(engine, "weekly", PERIOD, 24)
    assert found.waiting == {} and found.resendable == []
    assert _statuses(engine) == {candidate: "sent"}


def test_the_in_doubt_verb_reconciles_from_a_file_then_lists_what_waits(engine, settings,
                                                                        tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from app.cli import app

    sends = _in_doubt(engine, 2)
    arrived, waiting = sends
    log = tmp_path / "accepted.txt"
    log.write_text(sends[arrived] + "\n")
    result = CliRunner().invoke(app, ["in-doubt", "weekly", "--period", PERIOD, "--reconcile", str(log)])
    assert result.exit_code == 0, result.output
    assert "1 candidate(s) marked sent" in result.output
    assert "waiting for evidence (1" in result.output and str(waiting) in result.output
    assert _statuses(engine) == {arrived: "sent", waiting: "in_doubt"}


def test_the_in_doubt_verb_resends_only_named_candidates(settings) -> None:
    from typer.testing import CliRunner

    from app.cli import app

    result = CliRunner().invoke(app, ["in-doubt", "weekly", "--period", PERIOD, "--resend"])
    assert result.exit_code == 2 and "--candidate" in result.output
