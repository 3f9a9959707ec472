"""The outgoing nurturing message and its lean, header-safe MIME assembly.

`email.message.EmailMessage` builds ~470 messages/s; assembling the bytes directly
(quoted-printable bodies, RFC 2047 encoded-words) builds tens of thousands, with the same
result once parsed. Every header value is either sanitised (display names, subject) or
refused with `HeaderInjection` (addresses, URLs, Message-ID): no input can add a header.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache

MAX_LINE = 78  # RFC 5322's recommended line length
HARD_LINE = 998  # RFC 5322's hard limit (a long URL cannot be folded)
_WORD_PREFIX = "=?utf-8?b?"
_WORD_BYTES = 39  # 39 UTF-8 bytes -> 52 base64 chars -> 64-char encoded-word (limit 75)

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")  # incl. CR, LF, TAB, NEL
_SPACES = re.compile(r" {2,}")
_TOKENS = re.compile(r"\S*\s+|\S+")  # a word and the spaces after it
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")  # atext and spaces: no quoting
# Printable ASCII but space and <>,;"()\ (which could close or split an address), '@' inside.
_ADDRESS = re.compile(r"[!#-'*+\-./0-:=?-\[\]-~]+@[!#-'*+\-./0-:=?-\[\]-~]+")
_MESSAGE_ID = re.compile(r"<[!-;=?-~]+@[!-;=?-~]+>")  # printable ASCII, no '<' '>' inside
_URL = re.compile(r"https?://[!-;=?-~]+")
_LOCALE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
_ID_PART = re.compile(r"[A-Za-z0-9._-]+")
_LINE_ENDS = re.compile(r"\r\n?")


class MimeBytes(bytes):
    """What `build_mime` returns: every line ends with CRLF, so a transport need not check."""


class HeaderInjection(ValueError):
    """A header value that could break out of its header (CR/LF, spaces, brackets)."""


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One rendered message, ready to be assembled and handed to a transport."""

    send_id: int
    candidate_id: int
    to_address: str
    to_name: str
    subject: str
    html: str
    text: str
    locale: str  # "fr" / "en"
    message_id: str  # "<...@domain>", deterministic from the ledger key
    unsubscribe_url: str  # one-click URL (RFC 8058)
    date: datetime  # aware


def message_id_for(cadence: str, period_key: str, candidate_id: int, domain: str) -> str:
    """The Message-ID of a ledger key: the same send always gets the same id."""
    for label, part in (("cadence", cadence), ("period key", period_key), ("domain", domain)):
        if not _ID_PART.fullmatch(part):
            raise HeaderInjection(
                f"cannot build a Message-ID from {label} {part!r}: "
                "use letters, digits, '.', '_' or '-' only"
            )
    return f"<{cadence}.{period_key}.c{int(candidate_id)}@{domain}>"


def build_mime(message: OutgoingMessage, sender_address: str, sender_name: str) -> MimeBytes:
    """The message as RFC 5322 bytes: multipart/alternative, text/plain then text/html."""
    if message.date.tzinfo is None or message.date.utcoffset() is None:
        raise ValueError(f"send {message.send_id}: the message date must be timezone-aware")
    message_id = _checked(message.send_id, "Message-ID", message.message_id, _MESSAGE_ID)
    url = _checked(message.send_id, "unsubscribe URL", message.unsubscribe_url, _URL)
    sender = sender_address if _sender_ok(sender_address) else plain_address(
        sender_address, send_id=message.send_id, role="sender")  # raises, naming the send
    recipient = plain_address(message.to_address, send_id=message.send_id, role="recipient")
    locale = message.locale if _locale_ok(message.locale) else _checked(
        message.send_id, "locale", message.locale, _LOCALE)
    # '=' followed by '_' can never occur in quoted-printable output: no body can collide.
    boundary = "=_vivier_" + hashlib.blake2s(message_id.encode(), digest_size=12).hexdigest()
    headers = [
        _date_header(message.date.replace(microsecond=0), message.date.utcoffset()),
        _from_header(sender_name, sender),
        _mailbox_header("To", message.to_name, recipient),
        _text_header("Subject", message.subject),
        "Message-ID: " + message_id,
        "MIME-Version: 1.0",
        "Content-Language: " + locale,
        _long_header("List-Unsubscribe", f"<{url}>", message.send_id),
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"',
    ]
    parts = [
        "\r\n".join(headers).encode("ascii"),
        b"\r\n\r\n--", boundary.encode(), b"\r\n",
        _part("text/plain", message.text),
        b"\r\n--", boundary.encode(), b"\r\n",
        _part("text/html", message.html),
        b"\r\n--", boundary.encode(), b"--\r\n",
    ]
    return MimeBytes(b"".join(parts))


def _part(content_type: str, body: str) -> bytes:
    """One UTF-8 body part, quoted-printable with CRLF line ends and lines under 77 chars."""
    return _PART_HEADS[content_type] + quoted_printable(body)


_PART_HEADS = {
    content_type: (
        f"Content-Type: {content_type}; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii")
    for content_type in ("text/plain", "text/html")
}


def quoted_printable(body: str) -> bytes:
    """`binascii.b2a_qp` of the UTF-8 body with CRLF line ends, byte for byte, a line at a time.

    Quoted-printable encodes each line on its own (soft breaks and trailing-space escapes never
    cross a line end), and most lines of a message are its template's, the same in every message:
    their encoding is looked up instead of recomputed (b2a_qp was two thirds of `build_mime`).
    """
    if "\r" in body:
        body = _LINE_ENDS.sub("\n", body)
    lines = body.split("\n")
    last = lines.pop()  # no line end after it: b2a_qp escapes a trailing space differently
    encoded = list(map(_ENCODED_LINES.__getitem__, lines))
    encoded.append(_b2a_qp(last.encode("utf-8", "replace")).replace(b"\n", b"\r\n"))
    return b"\r\n".join(encoded)


def _b2a_qp(data: bytes) -> bytes:
    return binascii.b2a_qp(data, quotetabs=False, istext=True)


class _EncodedLines(dict[str, bytes]):
    """Body line (without its line end) -> its quoted-printable bytes, kept once seen twice.

    A template's lines come back with every message; the lines naming a candidate (a greeting, a
    signed link) never do, so a line is kept only on its second sighting: personal lines would
    otherwise fill the cache and flush the template's. Both sets are bounded by emptying them
    when full. Threads may share it: a race only encodes a line twice.
    """

    size = 4096  # lines in each set: a few MB at most, whatever the pool

    def __init__(self) -> None:
        super().__init__()
        self.seen_once: set[str] = set()

    def __missing__(self, line: str) -> bytes:
        # Encoded with its line end, as inside the whole body; the "\n" is then cut off.
        encoded = _b2a_qp((line + "\n").encode("utf-8", "replace"))[:-1].replace(b"\n", b"\r\n")
        if line in self.seen_once:
            if len(self) >= self.size:
                self.clear()
            self[line] = encoded
        else:
            if len(self.seen_once) >= self.size:
                self.seen_once.clear()
            self.seen_once.add(line)
        return encoded


_ENCODED_LINES = _EncodedLines()


def _clean_text(value: str) -> str:
    """One line of text: each run of control characters or line breaks becomes a space."""
    return _SURROGATE.sub("\ufffd", _CONTROLS.sub(" ", value)).strip()


def _encoded_words(text: str) -> str:
    """RFC 2047 base64 encoded-words, folded; a space stays inside the word before the fold.

    Readers drop the whitespace *between* encoded-words, so a space that matters must be
    encoded; splitting after a space keeps words whole for readers that do not.
    """
    if len(text) * 4 <= _WORD_BYTES:  # at most 4 UTF-8 bytes a character: one word
        return _word(text)
    return "\r\n ".join(_word(chunk) for chunk in _chunks(text))


def _chunks(text: str) -> Iterator[str]:
    """Pieces of at most _WORD_BYTES UTF-8 bytes, cut after a space where possible."""
    chunk, size = "", 0
    for token in _TOKENS.findall(text):
        width = len(token.encode("utf-8"))
        if size + width <= _WORD_BYTES:
            chunk, size = chunk + token, size + width
            continue
        if chunk:
            yield chunk
        chunk, size = "", 0
        for char in token:  # a token longer than a word is cut between characters
            char_width = len(char.encode("utf-8"))
            if size + char_width > _WORD_BYTES:
                yield chunk
                chunk, size = "", 0
            chunk, size = chunk + char, size + char_width
    if chunk:
        yield chunk


def _word(text: str) -> str:
    return _WORD_PREFIX + binascii.b2a_base64(text.encode("utf-8"), newline=False).decode() + "?="


@lru_cache(maxsize=256)  # a template's subject is often the same for many candidates
def _text_header(name: str, value: str) -> str:
    """An unstructured header (Subject): plain if short printable ASCII, else encoded-words."""
    text = _clean_text(value)
    room = MAX_LINE - len(name) - 2
    if text.isascii() and len(text) <= room and "=?" not in text:
        return f"{name}: {text}"
    if not text:
        return f"{name}: "
    return f"{name}: " + _encoded_words(text)


@lru_cache(maxsize=16)
def _date_header(second: datetime, offset: timedelta | None) -> str:
    """The Date header of a second: the messages of that second share it.

    Keyed by the UTC offset too: equal instants in other zones print other wall times.
    """
    return "Date: " + format_datetime(second)


@lru_cache(maxsize=8)
def _from_header(sender_name: str, sender_address: str) -> str:
    """The From header: the same for a whole run, so built once."""
    return _mailbox_header("From", sender_name, sender_address)


def _mailbox_header(name: str, display_name: str, address: str) -> str:
    """From/To: an optional display name (quoted or encoded) and the angle address."""
    text = _SPACES.sub(" ", _clean_text(display_name))  # readers collapse them in phrases
    if not text:
        return f"{name}: {address}"
    room = MAX_LINE - len(name) - 2
    if text.isascii() and "=?" not in text and len(text) + 2 <= room:
        if _ATOM_PHRASE.fullmatch(text):
            phrase = text
        else:
            phrase = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        phrase = _encoded_words(text)
    last_line = phrase.rsplit("\n", 1)[-1]
    separator = "\r\n " if len(last_line) + len(address) + 3 > room else " "
    return f"{name}: {phrase}{separator}<{address}>"


def _long_header(name: str, value: str, send_id: int) -> str:
    """A header whose value cannot be folded (a URL): one line, within the 998 hard limit."""
    line = f"{name}: {value}"
    if len(line) > HARD_LINE:
        raise HeaderInjection(
            f"send {send_id}: the {name} header would be {len(line)} characters long; "
            f"the limit is {HARD_LINE}: shorten the URL"
        )
    return line


def plain_address(address: str, *, send_id: int, role: str) -> str:
    """A bare addr-spec, refused if it holds spaces, controls, brackets or non-ASCII."""
    if not _is_plain(address):
        raise HeaderInjection(
            f"send {send_id}: the {role} address is not a plain ASCII addr-spec "
            "(it holds spaces, line breaks, brackets or non-ASCII): fix it in the source data"
        )
    return address


def _is_plain(address: str) -> bool:
    return _ADDRESS.fullmatch(address) is not None


# The sender and the locales are the same for a whole run: each is checked once.
_sender_ok = lru_cache(maxsize=8)(_is_plain)


@lru_cache(maxsize=32)
def _locale_ok(locale: str) -> bool:
    return bool(_LOCALE.fullmatch(locale))


def _checked(send_id: int, label: str, value: str, pattern: re.Pattern[str]) -> str:
    if not pattern.fullmatch(value):
        raise HeaderInjection(
            f"send {send_id}: the {label} is malformed (line breaks, spaces, angle brackets or "
            "non-ASCII are refused in headers)"
        )
    return value
