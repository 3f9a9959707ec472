"""The `smtp` transport: one reused connection per session, explicit MAIL/RCPT/DATA steps.

Driving the transaction step by step tells us where a failure happened, which decides
what is safe: a 4xx or a dropped link *before* the content was handed over is retried
(nothing was accepted); a link lost *after* the content left, before the server's reply,
may have been accepted, so the message is `in_doubt` and never silently resent.

When the server offers PIPELINING (RFC 2920), MAIL, RCPT and DATA leave in one write and
their three replies are read in order: two round trips per message instead of four, with
the same steps, the same replies to classify and the same safe points.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vivier.messages.mime import HeaderInjection, MimeBytes, OutgoingMessage, plain_address
from vivier.settings import Settings, SmtpTls
from vivier.transports.base import (
    ClosingSession,
    Outcome,
    SendResult,
    TransportRefused,
    TransportUnavailable,
)
from vivier.transports.ratelimit import TokenBucket

RETRY_BACKOFF = (0.2, 1.0, 3.0)  # seconds before the 1st, 2nd, 3rd+ retry
_LINK_ERRORS = (smtplib.SMTPServerDisconnected, OSError)
_ENHANCED_STATUS = re.compile(rb"\s*([245]\.\d{1,3}\.\d{1,3})\b")
_ANY_EOL = re.compile(rb"\r\n|\r|\n")
_MAXLINE = 8192  # smtplib's own limit on a reply line


@dataclass(frozen=True)
class _Retry:
    """A transient refusal or a link lost before the content left: safe to try again."""

    reason: str
    code: int | None = None


class SmtpTransport:
    """SMTP per `settings`: STARTTLS, implicit TLS or plain; AUTH when a user is set.

    Thread-safe: each worker thread opens its own session (one connection each); the rate
    limit is shared. `backoff` and `sleep` are injectable so tests need not wait.
    """

    name = "smtp"

    def __init__(
        self,
        settings: Settings,
        *,
        backoff: Sequence[float] = RETRY_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
        bucket: TokenBucket | None = None,
    ) -> None:
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.tls = settings.smtp_tls
        self.user = settings.smtp_user
        self._password = settings.smtp_password
        self.timeout = settings.smtp_timeout_seconds
        self.max_retries = settings.smtp_max_retries
        self.sender = settings.sender_address
        self.backoff = tuple(backoff) or (0.0,)
        self.sleep = sleep
        rate = settings.smtp_rate_per_second
        if bucket is None and rate > 0:
            bucket = TokenBucket(rate, sleep=sleep)
        self.bucket = bucket  # one bucket for every session: the limit is per transport
        self._local_hostname: str | None = None  # smtplib resolves it per connection: slow
        self._tls_context: ssl.SSLContext | None = None

    def open(self) -> SmtpSession:
        """A session with its connection already up: a dead server fails here, loudly."""
        session = SmtpSession(self)
        session.reconnect()
        return session

    def check(self) -> None:
        """Connect (TLS, login as configured) and NOOP: a run fails here before claiming anything."""
        with self.open() as session:
            session.noop()

    def tls_context(self) -> ssl.SSLContext | None:
        """Built once: loading the CA store costs ~50 ms, more than a whole connection."""
        if self.tls is not SmtpTls.plain and self._tls_context is None:
            self._tls_context = ssl.create_default_context()
        return self._tls_context

    def connect(self) -> smtplib.SMTP:
        """A greeted (and, per settings, encrypted and logged-in) connection."""
        where = f"{self.host}:{self.port}"
        step = "connect"
        context = self.tls_context()
        try:
            smtp: smtplib.SMTP
            local = self._local_hostname
            if self.tls is SmtpTls.ssl:
                smtp = smtplib.SMTP_SSL(self.host, self.port, local, timeout=self.timeout,
                                        context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, local, timeout=self.timeout)
            self._local_hostname = smtp.local_hostname
            try:
                step = "EHLO"
                smtp.ehlo()
                if self.tls is SmtpTls.starttls:
                    step = "STARTTLS"
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if self.user:
                    step = "AUTH"
                    password = self._password.get_secret_value() if self._password else ""
                    smtp.login(self.user, password)
            except BaseException:
                smtp.close()
                raise
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportUnavailable(
                f"SMTP server at {where} refused the login ({exc.smtp_code}); "
                "check VIVIER_SMTP_USER and VIVIER_SMTP_PASSWORD"
            ) from None
        except TimeoutError:
            raise TransportUnavailable(
                f"SMTP server at {where} did not answer within {self.timeout:g} s ({step}); "
                "check VIVIER_SMTP_HOST/PORT and VIVIER_SMTP_TIMEOUT_SECONDS"
            ) from None
        except _LINK_ERRORS as exc:  # SMTPException and SSLError are OSErrors too
            raise TransportUnavailable(_connect_problem(where, step, exc)) from None
        return smtp


def _connect_problem(where: str, step: str, exc: BaseException) -> str:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if step == "connect" and not isinstance(exc, ssl.SSLError):
        return (f"SMTP server refused connection at {where}: {reason}; "
                "check VIVIER_SMTP_HOST/PORT and that the server is running")
    if step in ("connect", "STARTTLS"):
        return (f"TLS with the SMTP server at {where} failed at {step}: {reason}; check "
                "VIVIER_SMTP_TLS (starttls on 587, ssl on 465, plain only for a local test server)")
    if step == "AUTH":
        return (f"SMTP server at {where} offers no login here: {reason}; "
                "unset VIVIER_SMTP_USER or enable TLS (VIVIER_SMTP_TLS)")
    return f"SMTP server at {where} failed at {step}: {reason}; check VIVIER_SMTP_HOST/PORT"


class SmtpSession(ClosingSession):
    """One reused SMTP connection for one worker thread; reconnects when the link drops."""

    def __init__(self, transport: SmtpTransport) -> None:
        self._transport = transport
        self._smtp: smtplib.SMTP | None = None
        self.connections = 0  # how many times this session connected (1 when all went well)

    @property
    def pipelining(self) -> bool:
        """Whether the current connection sends MAIL, RCPT and DATA in one write."""
        return self._smtp is not None and self._smtp.has_extn("pipelining")

    def reconnect(self) -> None:
        self._drop()
        self._smtp = self._transport.connect()
        self.connections += 1

    def noop(self) -> None:
        """NOOP on the current connection: TransportUnavailable unless the server answers 250."""
        where = f"{self._transport.host}:{self._transport.port}"
        if self._smtp is None:
            self.reconnect()
        assert self._smtp is not None
        try:
            code, _ = self._smtp.noop()
        except _LINK_ERRORS as exc:
            raise TransportUnavailable(_connect_problem(where, "NOOP", exc)) from None
        if code != 250:
            raise TransportUnavailable(
                f"SMTP server at {where} answered NOOP with {code}; check the server's logs"
            )

    def send(self, message: OutgoingMessage, mime: bytes) -> SendResult:
        """Deliver one message; raises TransportUnavailable only if it was not handed over."""
        try:
            plain_address(message.to_address, send_id=message.send_id, role="recipient")
        except HeaderInjection:
            return SendResult(message.send_id, Outcome.failed, "recipient address malformed")
        payload = _data_payload(mime)
        if self._transport.bucket is not None:
            self._transport.bucket.acquire()
        retries = 0
        while True:
            try:
                if self._smtp is None:
                    self.reconnect()
                outcome = self._transaction(message, payload)
            except TransportRefused:
                raise  # permanent and not about this recipient: retrying cannot help
            except TransportUnavailable:
                if retries >= self._transport.max_retries:
                    raise
                outcome = _Retry("server unreachable")
            if isinstance(outcome, SendResult):
                return outcome
            if retries >= self._transport.max_retries:
                return SendResult(message.send_id, Outcome.failed,
                                  f"{outcome.reason}; gave up after {retries + 1} attempts",
                                  outcome.code)
            backoff = self._transport.backoff
            self._transport.sleep(backoff[min(retries, len(backoff) - 1)])
            retries += 1

    def _transaction(self, message: OutgoingMessage, payload: bytes) -> SendResult | _Retry:
        """One MAIL/RCPT/DATA exchange on the current connection."""
        smtp = self._smtp
        assert smtp is not None
        if self.pipelining:
            envelope = self._pipelined_envelope(smtp, message)
        else:
            envelope = self._stepwise_envelope(smtp, message)
        if envelope is not None:
            return envelope
        try:
            smtp.send(payload)
            code, reply = _reply(smtp)
        except _LINK_ERRORS:
            self._drop()
            return SendResult(message.send_id, Outcome.in_doubt,
                              "connection lost after the content was sent: may have been delivered")
        if code == 250:
            return SendResult(message.send_id, Outcome.sent, "accepted", code)
        return self._refused(message, "end of DATA", code, reply)

    def _stepwise_envelope(
        self, smtp: smtplib.SMTP, message: OutgoingMessage
    ) -> SendResult | _Retry | None:
        """MAIL, RCPT, DATA one reply at a time; None when the server waits for the content."""
        step = "MAIL"
        try:
            code, reply = smtp.mail(self._transport.sender)
            if code != 250:
                return self._refused(message, step, code, reply)
            step = "RCPT"
            code, reply = smtp.rcpt(message.to_address)
            if code not in (250, 251):
                return self._refused(message, step, code, reply)
            step = "DATA"
            code, reply = smtp.docmd("DATA")
            if code != 354:
                return self._refused(message, step, code, reply)
        except _LINK_ERRORS:
            self._drop()  # nothing was accepted yet: reconnecting and retrying is safe
            return _Retry(f"connection lost at {step}")
        return None

    def _pipelined_envelope(
        self, smtp: smtplib.SMTP, message: OutgoingMessage
    ) -> SendResult | _Retry | None:
        """MAIL, RCPT and DATA in one write (RFC 2920), then their replies in order."""
        # Both addresses are plain ASCII addr-specs (checked), so `<address>` is what
        # smtplib.quoteaddr would make of them, without parsing them again (~50 µs each).
        commands = (f"MAIL FROM:<{self._transport.sender}>\r\n"
                    f"RCPT TO:<{message.to_address}>\r\n"
                    "DATA\r\n").encode("ascii")
        replies: list[tuple[int, bytes]] = []
        try:
            smtp.send(commands)
            for _ in range(3):  # every reply is read, even after a refusal: the link stays in step
                replies.append(_reply(smtp))
        except _LINK_ERRORS:
            self._drop()  # the content never left: reconnecting and retrying is safe
            return _Retry(f"connection lost at {('MAIL', 'RCPT', 'DATA')[len(replies)]}")
        if replies[0][0] == 250 and replies[1][0] in (250, 251) and replies[2][0] == 354:
            return None  # the usual answer, told apart without the loop below
        for step, accepted, (code, reply) in zip(
            ("MAIL", "RCPT", "DATA"), ((250,), (250, 251), (354,)), replies, strict=True
        ):
            if code not in accepted:
                if replies[2][0] == 354:
                    # A server that opened DATA after a refused envelope: only closing the link
                    # ends that transaction without sending anything.
                    self._drop()
                return self._refused(message, step, code, reply)
        return None

    def _refused(
        self, message: OutgoingMessage, step: str, code: int, reply: bytes
    ) -> SendResult | _Retry:
        """Classify a refusal (reply text is never kept: it may quote the address)."""
        status = _enhanced_status(reply)
        detail = f"refused at {step}: {code}" + (f" {status}" if status else "")
        self._reset(code)
        if 400 <= code < 500:
            return _Retry(detail, code)
        recipient_step = step in ("RCPT", "end of DATA")
        if recipient_step and _recipient_refused_for_good(code, status):
            return SendResult(message.send_id, Outcome.hard_bounce, detail, code)
        if step != "RCPT":
            raise TransportRefused(
                f"the SMTP server at {self._transport.host}:{self._transport.port} {detail}: a "
                "permanent refusal that is not about the recipient (sender address, relay or "
                "authentication rights, a policy or the content): every message would get it. Check "
                "VIVIER_SENDER_ADDRESS, VIVIER_SMTP_USER and the relay's rules with your mail provider"
            )
        return SendResult(message.send_id, Outcome.failed, detail, code)

    def _reset(self, code: int) -> None:
        """RSET after a refused transaction; drop the link if the server is closing it."""
        if code == 421 or self._smtp is None:
            self._drop()
            return
        try:
            self._smtp.rset()
        except _LINK_ERRORS:
            self._drop()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def close(self) -> None:
        """QUIT politely; a server that already left is fine."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except _LINK_ERRORS:
            smtp.close()


def _reply(smtp: smtplib.SMTP) -> tuple[int, bytes]:
    """One reply, read as `smtplib.SMTP.getreply` reads it (same errors), without its per-line
    debug and decoding work: four replies a message are on the send path's hot loop."""
    if smtp.file is None:
        if smtp.sock is None:
            raise smtplib.SMTPServerDisconnected("please run connect() first")
        smtp.file = smtp.sock.makefile("rb")
    lines = []
    while True:
        try:
            line = smtp.file.readline(_MAXLINE + 1)
        except OSError as exc:
            smtp.close()
            raise smtplib.SMTPServerDisconnected(f"Connection unexpectedly closed: {exc}") from None
        if not line:
            smtp.close()
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        if len(line) > _MAXLINE:
            smtp.close()
            raise smtplib.SMTPResponseException(500, "Line too long.")
        lines.append(line[4:].strip(b" \t\r\n"))
        if line[3:4] != b"-":
            break
    try:
        code = int(line[:3])
    except ValueError:
        code = -1
    return code, b"\n".join(lines)


def _enhanced_status(reply: bytes) -> str | None:
    found = _ENHANCED_STATUS.match(reply)
    return found.group(1).decode() if found else None


def _recipient_refused_for_good(code: int, status: str | None) -> bool:
    """A 5xx about the mailbox itself (5.1.x, 5.2.1), not a policy or relay refusal (5.7.x).

    Suppressing on a relay or auth error would silence the whole pool, so those are `failed`.
    """
    if status is not None:
        return status.startswith("5.1.") or status == "5.2.1"
    return code in (550, 551, 553)


def _data_payload(mime: bytes) -> bytes:
    """The DATA content: CRLF line ends, leading dots doubled, the final dot line."""
    if type(mime) is not MimeBytes:  # build_mime's lines all end with CRLF: three scans saved
        crlf = mime.count(b"\r\n")
        if mime.count(b"\n") != crlf or mime.count(b"\r") != crlf:
            mime = _ANY_EOL.sub(b"\r\n", mime)
    # Lines start after "\n" only (CRLF throughout): a plain replace doubles every leading dot
    # in one C search, where a MULTILINE regex tried every position of the message (~40 µs).
    stuffed = mime.replace(b"\n.", b"\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"
