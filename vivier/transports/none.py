"""The `none` transport: for pipeline tests and dry runs, it counts messages and sends nothing.

A dry run never calls a transport at all (plan, report, stop). This transport exists so the
whole deliver stage can run end to end without a server or a folder: every message is
reported `sent` with the detail "not sent (transport none)", so nobody mistakes it for mail.
"""

from __future__ import annotations

import threading

from vivier.messages.mime import OutgoingMessage
from vivier.transports.base import ClosingSession, Outcome, SendResult

NOT_SENT = "not sent (transport none)"


class NoneTransport:
    """Accepts every message and delivers none; `count` is the total across sessions."""

    name = "none"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def open(self) -> NoneSession:
        return NoneSession(self)

    def check(self) -> None:
        """Nothing to reach: always ready."""

    def _counted(self) -> None:
        with self._lock:
            self.count += 1


class NoneSession(ClosingSession):
    """Counts the messages of one worker."""

    def __init__(self, transport: NoneTransport) -> None:
        self._transport = transport
        self.count = 0

    def send(self, message: OutgoingMessage, mime: bytes) -> SendResult:
        self.count += 1
        self._transport._counted()
        return SendResult(message.send_id, Outcome.sent, NOT_SENT)
