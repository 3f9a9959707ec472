"""A real SMTP sink on 127.0.0.1 (aiosmtpd) that can refuse, stall and drop on demand.

    with SmtpSink(refuse_rcpt={"gone@example.org": 550}, transient_failures=2) as sink:
        ... send to sink.host:sink.port (VIVIER_SMTP_TLS=plain) ...
        assert sink.count == 10 and sink.connections == 1

Counters are 1-based and global to the sink: `drop_after_data={3}` drops the link after
the 3rd DATA content was received (the message *is* kept: the in-doubt case), and
`drop_before_data={2}` drops it at the 2nd MAIL FROM (nothing kept). `refuse_mail` and
`refuse_data` are whole replies given to every MAIL FROM / every end of DATA.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

REPLIES = {
    421: "421 4.3.2 Service shutting down",
    450: "450 4.2.1 Mailbox busy, try later",
    451: "451 4.3.0 Temporary failure, try later",
    452: "452 4.3.1 Insufficient storage",
    550: "550 5.1.1 No such mailbox",
    551: "551 5.1.6 User not local",
    552: "552 5.2.2 Mailbox full",
    553: "553 5.1.3 Bad address syntax",
    554: "554 5.7.1 Refused by policy",
}


class _FreePortController(Controller):
    """Binds port 0 and learns the real port before aiosmtpd's start-up probe."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    """An SMTP server in a thread; `.messages` holds (recipients, content bytes) it accepted."""

    def __init__(
        self,
        *,
        refuse_rcpt: dict[str, int] | None = None,
        transient_failures: int = 0,
        drop_after_data: set[int] | None = None,
        drop_before_data: set[int] | None = None,
        auth: tuple[str, str] | None = None,
        on_command: Callable[[str, int], None] | None = None,
        refuse_mail: str | None = None,
        refuse_data: str | None = None,
    ) -> None:
        self.refuse_rcpt = {address.lower(): code for address, code in (refuse_rcpt or {}).items()}
        self.transient_failures = transient_failures
        self.drop_after_data = set(drop_after_data or ())
        self.drop_before_data = set(drop_before_data or ())
        self.auth = auth
        # Called as on_command("MAIL", n) / on_command("DATA", n) before the reply: crash tests kill here.
        self.on_command = on_command
        # Whole replies given to every MAIL FROM / every end of DATA (e.g. "554 5.7.1 Relay denied").
        self.refuse_mail, self.refuse_data = refuse_mail, refuse_data
        self.host = "127.0.0.1"
        self.port = 0
        self._lock = threading.Lock()
        self._messages: list[tuple[list[str], bytes]] = []
        self._connections = 0
        self._mail_commands = 0
        self._rcpt_commands = 0
        self._data_commands = 0
        self._controller: _FreePortController | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        kwargs: dict[str, Any] = {}
        if self.auth is not None:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        controller = _FreePortController(
            _Handler(self), hostname=self.host, port=0, server_hostname="vivier-sink", **kwargs
        )
        controller.start()
        self.port = controller.port
        self._controller = controller
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what the sink saw -------------------------------------------------------------

    @property
    def messages(self) -> list[tuple[list[str], bytes]]:
        with self._lock:
            return list(self._messages)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._messages)

    @property
    def connections(self) -> int:
        """Client connections that greeted the server (aiosmtpd's start-up probe excluded)."""
        with self._lock:
            return self._connections

    def received_for(self, address: str) -> list[bytes]:
        wanted = address.lower()
        with self._lock:
            return [content for rcpts, content in self._messages
                    if wanted in (r.lower() for r in rcpts)]

    # -- server-side decisions (called on the server thread) ---------------------------

    def _greeted(self, session: Session) -> None:
        if not getattr(session, "vivier_counted", False):
            session.vivier_counted = True  # type: ignore[attr-defined]
            with self._lock:
                self._connections += 1

    def _next(self, counter: str) -> int:
        with self._lock:
            value = getattr(self, counter) + 1
            setattr(self, counter, value)
            return value

    def _rcpt_reply(self, address: str) -> str | None:
        if self._next("_rcpt_commands") <= self.transient_failures:
            return REPLIES[451]
        code = self.refuse_rcpt.get(address.lower())
        return None if code is None else REPLIES.get(code, f"{code} Refused")

    def _keep(self, envelope: Envelope) -> int:
        content = envelope.content
        data = content if isinstance(content, bytes) else str(content).encode()
        with self._lock:
            self._messages.append((list(envelope.rcpt_tos), data))
            self._data_commands += 1
            return self._data_commands

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.auth is not None
        ok = isinstance(data, LoginPassword) and (
            data.login.decode(), data.password.decode()) == self.auth
        return AuthResult(success=ok, handled=False)  # unhandled failure: the server says 535


class _Handler:
    """aiosmtpd hooks; a hook that closes the transport makes its reply vanish (a drop)."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        self.sink._greeted(session)
        return responses

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        session.host_name = hostname
        self.sink._greeted(session)
        return f"250 {server.hostname}"

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        options: list[str],
    ) -> str:
        if self.sink.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if self.sink.refuse_mail is not None:
            return self.sink.refuse_mail
        mail_number = self.sink._next("_mail_commands")
        if self.sink.on_command is not None:
            self.sink.on_command("MAIL", mail_number)
        if mail_number in self.sink.drop_before_data:
            _drop(server)
            return "421 4.3.2 dropped"  # never reaches the client
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        options: list[str],
    ) -> str:
        refusal = self.sink._rcpt_reply(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.sink.refuse_data is not None:
            return self.sink.refuse_data  # nothing kept: the server refused the content
        number = self.sink._keep(envelope)
        if self.sink.on_command is not None:
            self.sink.on_command("DATA", number)
        if number in self.sink.drop_after_data:
            _drop(server)
        return "250 2.0.0 Accepted"


def _drop(server: SMTP) -> None:
    if server.transport is not None:
        server.transport.close()
