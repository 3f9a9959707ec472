"""How messages leave: one `Transport` interface, chosen by `settings.transport`.

- `maildir` (default): files in a standard Maildir that any mail client opens;
- `smtp`: a real SMTP server, one reused connection per session, retries, rate limit;
- `none`: for pipeline tests and dry runs: counts messages and sends nothing.

    transport = make_transport(settings)         # once per process: Resources.transport
    with transport.open() as session:           # one session per worker thread
        result = session.send(message, build_mime(message, sender, name))
"""

from __future__ import annotations

from vivier.settings import Settings, TransportName
from vivier.transports.base import (
    Outcome,
    SendResult,
    Transport,
    TransportRefused,
    TransportSession,
    TransportUnavailable,
)
from vivier.transports.maildir import MaildirTransport
from vivier.transports.none import NoneTransport
from vivier.transports.smtp import SmtpTransport

__all__ = [
    "Outcome",
    "SendResult",
    "Transport",
    "TransportSession",
    "TransportRefused",
    "TransportUnavailable",
    "make_transport",
]

def make_transport(settings: Settings) -> Transport:
    """A new transport of the kind `settings.transport` names."""
    if settings.transport is TransportName.maildir:
        return MaildirTransport(settings.maildir_path)
    if settings.transport is TransportName.smtp:
        return SmtpTransport(settings)
    if settings.transport is TransportName.none:
        return NoneTransport()
    raise ValueError(f"unknown transport {settings.transport!r}: use maildir, smtp or none")
