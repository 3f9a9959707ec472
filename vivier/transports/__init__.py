"""How messages leave: one `Transport` interface, chosen by `settings.transport`.

- `maildir` (default): files in a standard Maildir that any mail client opens;
- `smtp`: a real SMTP server, one reused connection per session, retries, rate limit;
- `none`: for pipeline tests and dry runs: counts messages and sends nothing.

    transport = make_transport(settings)
    with transport.open() as session:           # one session per worker thread
        result = session.send(message, build_mime(message, sender, name))
"""

from __future__ import annotations

import hashlib
import threading

from vivier.settings import Settings, TransportName
from vivier.transports.base import (
    Outcome,
    SendResult,
    Transport,
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
    "TransportUnavailable",
    "make_transport",
    "shared_transport",
]

_shared: dict[tuple[object, ...], Transport] = {}
_shared_lock = threading.Lock()


def make_transport(settings: Settings) -> Transport:
    """A new transport of the kind `settings.transport` names."""
    if settings.transport is TransportName.maildir:
        return MaildirTransport(settings.maildir_path)
    if settings.transport is TransportName.smtp:
        return SmtpTransport(settings)
    if settings.transport is TransportName.none:
        return NoneTransport()
    raise ValueError(f"unknown transport {settings.transport!r}: use maildir, smtp or none")


def shared_transport(settings: Settings) -> Transport:
    """The process-wide transport for these settings, so all sessions share one rate limit."""
    secret = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
    password = hashlib.sha256(secret.encode()).hexdigest()  # the key never holds the secret
    key = (
        settings.transport, str(settings.maildir_path.resolve()), settings.smtp_host,
        settings.smtp_port, settings.smtp_tls, settings.smtp_user, password,
        settings.smtp_timeout_seconds, settings.smtp_rate_per_second, settings.smtp_max_retries,
        settings.sender_address,
    )
    with _shared_lock:
        if key not in _shared:
            _shared[key] = make_transport(settings)
        return _shared[key]
