"""A run checks what would fail every message (keys, headers, transport) before it claims a row,
and a chunk that stops half-way never leaves rows `sending`."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from tests import builders
from vivier.messages.mime import OutgoingMessage
from vivier.pipeline.resources import Resources
from vivier.pipeline.run import RunStopped, run_period
from vivier.rules.cadences import today_in
from vivier.settings import DEMO_SECRET, Environment, Settings, get_settings
from vivier.store.schema import Run, Send
from vivier.transports import SendResult
from vivier.transports.base import ClosingSession, Outcome
from vivier.transports.none import NoneTransport

STRONG_KEY = "a-test-key-that-is-long-enough-to-sign-links"


@pytest.fixture
def settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The suite's settings with a key the 32-byte rule accepts."""
    monkeypatch.setenv("VIVIER_SECRET_KEY", STRONG_KEY)
    get_settings.cache_clear()
    return get_settings()


def ledger(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return {row.candidate_id: row.status for row in conn.execute(
            sa.select(Send.candidate_id, Send.status))}


def last_run(engine: sa.Engine) -> tuple[str, dict]:
    with engine.connect() as conn:
        row = conn.execute(sa.select(Run.state, Run.summary).order_by(Run.id.desc())).first()
    assert row is not None
    return row.state, row.summary


def run(settings: Settings, **build: object) -> object:
    return run_period(Resources.build(settings, **build), "weekly", today_in(settings.zone))  # type: ignore[arg-type]


@pytest.mark.usefixtures("catalog")
def test_an_unwritable_outbox_fails_the_run_before_any_row_is_claimed(engine, settings, tmp_path) -> None:
    builders.candidate(engine)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the Maildir should be")
    with pytest.raises(RunStopped, match="VIVIER_MAILDIR_PATH.*0 of 1 sent"):
        run(settings.model_copy(update={"maildir_path": blocked}))
    assert set(ledger(engine).values()) == {"pending"}  # planned, never claimed: a rerun sends it
    state, summary = last_run(engine)
    assert state == "failed" and "Stopped before sending" in summary["notes"][0]


def test_a_sender_address_no_message_can_carry_stops_the_run_before_planning(engine, settings) -> None:
    builders.candidate(engine)
    # Settings refuse it when they load; a copy skips validation, as a bug elsewhere could.
    broken = settings.model_copy(update={"sender_address": "Talents <talents@vivier.example>"})
    with pytest.raises(RunStopped, match="VIVIER_SENDER_ADDRESS"):
        run(broken)
    assert ledger(engine) == {}


@pytest.mark.parametrize("key", [DEMO_SECRET, "short-key"])
def test_a_weak_signing_key_stops_the_run_outside_the_demo(engine, settings, key: str) -> None:
    builders.candidate(engine)
    with pytest.raises(RunStopped, match="VIVIER_SECRET_KEY"):
        run(settings.model_copy(update={"secret_key": SecretStr(key)}))
    assert ledger(engine) == {}


@pytest.mark.usefixtures("catalog")
def test_the_demo_may_sign_with_the_demo_key(engine, settings) -> None:
    someone = builders.candidate(engine)
    demo = settings.model_copy(update={"env": Environment.demo, "secret_key": SecretStr(DEMO_SECRET)})
    summary = run(demo)
    assert summary.tally.stages["sent"] == 1  # type: ignore[attr-defined]
    assert ledger(engine) == {someone: "sent"}


@pytest.mark.usefixtures("catalog")
def test_a_message_building_error_for_everyone_leaves_no_row_sending(
        engine, settings, monkeypatch: pytest.MonkeyPatch) -> None:
    people = [builders.candidate(engine) for _ in range(3)]
    monkeypatch.setattr("vivier.pipeline.run.preflight", lambda resources, spec: None)
    broken = settings.model_copy(update={"sender_address": "Talents <talents@vivier.example>"})
    run(broken)
    assert ledger(engine) == dict.fromkeys(people, "failed")  # retried by the next run, not stuck


class _BreaksAfterOne(NoneTransport):
    """A transport whose link breaks for good after the first message (a bug, a lost volume)."""

    def open(self) -> ClosingSession:  # type: ignore[override]
        transport = self

        class Session(ClosingSession):
            def send(self, message: OutgoingMessage, mime: bytes) -> SendResult:
                if transport.count:
                    raise RuntimeError("the outbox vanished")
                transport._counted()
                return SendResult(message.send_id, Outcome.sent)

        return Session()


@pytest.mark.usefixtures("catalog")
def test_a_chunk_stopped_half_way_hands_the_rest_back_as_pending(engine, settings) -> None:
    first, *rest = [builders.candidate(engine) for _ in range(3)]
    with pytest.raises(RunStopped, match="the outbox vanished"):
        run(settings, transport=_BreaksAfterOne())
    assert ledger(engine) == {first: "sent"} | dict.fromkeys(rest, "pending")
    assert last_run(engine)[0] == "failed"


def test_the_maildir_pre_flight_creates_a_private_outbox(settings, tmp_path: Path) -> None:
    from vivier.transports.maildir import MaildirTransport

    outbox = tmp_path / "private" / "outbox"
    MaildirTransport(outbox).check()
    assert (outbox.stat().st_mode & 0o777) == 0o700
    assert sorted(path.name for path in outbox.iterdir()) == ["cur", "new", "tmp"]
    assert list((outbox / "tmp").iterdir()) == []  # the probe file is gone
