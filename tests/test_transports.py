"""Transports without a server: the Maildir outbox, the `none` transport, the rate limit."""

from __future__ import annotations

import email.policy
import mailbox
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vivier.messages.mime import OutgoingMessage, build_mime, message_id_for
from vivier.pipeline.resources import Resources, current, using
from vivier.settings import Settings
from vivier.transports import (
    Outcome,
    TransportUnavailable,
    make_transport,
)
from vivier.transports.maildir import MaildirTransport
from vivier.transports.none import NOT_SENT, NoneTransport
from vivier.transports.ratelimit import TokenBucket
from vivier.transports.smtp import SmtpTransport


def outgoing(number: int) -> OutgoingMessage:
    return OutgoingMessage(
        send_id=number, candidate_id=number, to_address=f"candidate{number}@example.org",
        to_name="Éloïse Ĺ", subject=f"Vos offres n°{number} 🚀", html=f"<p>Offre {number}</p>",
        text=f"Offre {number}\n.point\n", locale="fr",
        message_id=message_id_for("weekly", "2026-W48", number, "vivier.example"),
        unsubscribe_url=f"https://vivier.example/u/{number}",
        date=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
    )


def mime(message: OutgoingMessage) -> bytes:
    return build_mime(message, "talents@vivier.example", "L'équipe talents")


def test_maildir_messages_are_read_back_by_a_mail_client(tmp_path: Path) -> None:
    transport = MaildirTransport(tmp_path / "outbox")
    with transport.open() as session:
        results = [session.send(m, mime(m)) for m in map(outgoing, range(1, 6))]
    assert [r.outcome for r in results] == [Outcome.sent] * 5
    box = mailbox.Maildir(tmp_path / "outbox", create=False)
    read = sorted((email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
                   for key in box.iterkeys()), key=lambda mail: mail["Message-ID"])
    expected_ids = sorted(outgoing(n).message_id for n in range(1, 6))
    assert [mail["Message-ID"] for mail in read] == expected_ids
    first = read[0]
    assert first["Subject"] == "Vos offres n°1 🚀"
    assert first["To"].addresses[0].display_name == "Éloïse Ĺ"
    assert next(first.iter_parts()).get_content() == "Offre 1\n.point\n"
    assert not list((tmp_path / "outbox" / "tmp").iterdir())  # nothing left half-written


def test_maildir_messages_are_private(tmp_path: Path) -> None:
    transport = MaildirTransport(tmp_path / "outbox")
    with transport.open() as session:
        session.send(outgoing(1), mime(outgoing(1)))
    assert (tmp_path / "outbox").stat().st_mode & 0o777 == 0o700
    assert [path.stat().st_mode & 0o777 for path in (tmp_path / "outbox" / "new").iterdir()] == [0o600]


def test_the_maildir_pre_flight_names_the_setting_when_it_cannot_write(tmp_path: Path) -> None:
    (tmp_path / "outbox").write_text("a file, not a folder")
    with pytest.raises(TransportUnavailable, match="VIVIER_MAILDIR_PATH"):
        MaildirTransport(tmp_path / "outbox").check()


def test_maildir_sessions_write_concurrently_without_losing_a_message(tmp_path: Path) -> None:
    transport = MaildirTransport(tmp_path / "outbox")

    def worker(start: int) -> list[Outcome]:
        with transport.open() as session:
            messages = map(outgoing, range(start, start + 50))
            return [session.send(m, mime(m)).outcome for m in messages]

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = [o for batch in pool.map(worker, (0, 50, 100, 150)) for o in batch]
    assert outcomes == [Outcome.sent] * 200
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 200


def test_an_unwritable_maildir_fails_at_open_naming_the_setting(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(TransportUnavailable, match="VIVIER_MAILDIR_PATH"):
        MaildirTransport(blocker / "outbox").open()


def test_none_transport_counts_and_says_nothing_was_sent() -> None:
    transport = NoneTransport()
    with transport.open() as first, transport.open() as second:
        results = [first.send(outgoing(1), b""), second.send(outgoing(2), b""),
                   second.send(outgoing(3), b"")]
    assert {r.outcome for r in results} == {Outcome.sent}
    assert {r.detail for r in results} == {NOT_SENT}
    assert (first.count, second.count, transport.count) == (1, 2, 3)


@pytest.mark.parametrize("name,kind", [
    ("maildir", MaildirTransport), ("smtp", SmtpTransport), ("none", NoneTransport),
])
def test_the_transport_is_chosen_by_settings(tmp_path: Path, name: str, kind: type) -> None:
    settings = Settings(transport=name, maildir_path=tmp_path / "outbox")  # type: ignore[arg-type]
    transport = make_transport(settings)
    assert isinstance(transport, kind) and transport.name == name


def test_sessions_of_one_process_share_one_transport(tmp_path: Path) -> None:
    settings = Settings(transport="smtp", smtp_rate_per_second=5,  # type: ignore[arg-type]
                        database_url=f"sqlite:///{tmp_path / 'vivier.db'}")
    process = Resources.build(settings)
    seen: list[object] = []
    with using(process):  # every batch thread of the process reaches the same one (one rate limit)
        threads = [threading.Thread(target=lambda: seen.append(current().transport)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(seen) == 4 and all(transport is process.transport for transport in seen)
    assert Resources.build(settings).transport is not process.transport  # another process: its own


class FakeClock:
    """Time that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_rate_limit_allows_rate_sends_per_second() -> None:
    clock = FakeClock()
    bucket = TokenBucket(4, clock=clock, sleep=clock.sleep)
    sends_in_window = 0
    while True:
        bucket.acquire()
        if clock.now >= 3.0:
            break
        sends_in_window += 1
    assert sends_in_window == 12  # 4/s over a 3 s window: t = 0, 0.25, …, 2.75


def test_the_rate_limit_refills_after_idle_time_up_to_its_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2, burst=3, clock=clock, sleep=clock.sleep)
    clock.now = 100.0  # long idle: the bucket is full, but holds no more than its burst
    waits = [bucket.reserve() for _ in range(5)]
    assert waits == [0.0, 0.0, 0.0, 0.5, 1.0]


def test_the_rate_limit_is_shared_fairly_between_threads() -> None:
    clock = FakeClock()  # frozen: every thread reserves at the same instant
    bucket = TokenBucket(4, clock=clock, sleep=clock.sleep)
    barrier = threading.Barrier(8)

    def reserve() -> float:
        barrier.wait()
        return bucket.reserve()

    with ThreadPoolExecutor(max_workers=8) as pool:
        waits = sorted(pool.map(lambda _: reserve(), range(8)))
    assert waits == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]


def test_a_rate_limit_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError, match="positive rate"):
        TokenBucket(0)
