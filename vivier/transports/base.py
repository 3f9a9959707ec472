"""The one small interface every transport implements: open a session, send, close."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self

from vivier.messages.mime import OutgoingMessage


class Outcome(StrEnum):
    """What became of one message handed to a transport."""

    sent = "sent"  # accepted by the server (or written to the Maildir)
    failed = "failed"  # not accepted, nothing delivered: may be retried in a later run
    hard_bounce = "hard_bounce"  # the recipient was refused for good: suppress the address
    in_doubt = "in_doubt"  # the link broke after the content left: maybe delivered, never resend


@dataclass(frozen=True)
class SendResult:
    """The outcome of one send; `detail` holds codes and generic words, never an address."""

    send_id: int
    outcome: Outcome
    detail: str = ""
    smtp_code: int | None = None


class TransportUnavailable(RuntimeError):
    """The transport cannot work at all (server unreachable, login refused, folder unwritable).

    Raised by `open()`, or by `send()` when the link is lost and cannot be rebuilt: the message
    in hand was NOT handed over, so the caller may leave it pending and stop the run.
    """


class TransportRefused(TransportUnavailable):
    """The server refuses every message for a reason that is not the recipient: a permanent
    (5xx) reply to MAIL FROM, DATA or the end of DATA that is not about the mailbox (a relay,
    policy, sender or content refusal). The message in hand was not delivered; nothing more can
    leave until someone fixes the sending settings: the run stops and fails, never retried.
    """


class TransportSession(Protocol):
    """One worker's link to the transport: used by one thread at a time."""

    def send(self, message: OutgoingMessage, mime: bytes) -> SendResult: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Transport(Protocol):
    """A way out for messages; thread-safe: each worker thread opens its own session."""

    name: str

    def open(self) -> TransportSession: ...

    def check(self) -> None:
        """Pre-flight before a run claims anything: TransportUnavailable says what to fix."""
        ...


class ClosingSession:
    """Mixin: a session is a context manager that closes itself."""

    def close(self) -> None:
        """Release the session's resources (nothing by default)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
