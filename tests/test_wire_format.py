"""The fast paths of the MIME builder and the SMTP payload give the very bytes the slow ones gave."""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testing.smtp import SmtpSink
from tests.test_mime import SENDER, SENDER_NAME, outgoing
from tests.test_smtp import transport_for
from vivier.messages import mime
from vivier.messages.mime import HeaderInjection, MimeBytes, build_mime, plain_address, quoted_printable
from vivier.transports import Outcome
from vivier.transports.smtp import _data_payload

# Characters at quoted-printable's edges: spaces and tabs before a line end, a dot alone on a
# line, '=', line ends of every kind, multi-byte UTF-8 and a lone surrogate.
EDGES = st.lists(st.sampled_from([*" \t.=\n\rxé🚀\ud800", "\r\n", "a" * 70]), max_size=60).map("".join)


def whole_body_qp(body: str) -> bytes:
    """The encoding build_mime used before it went a line at a time: b2a_qp over the whole body."""
    raw = re.sub(r"\r\n?", "\n", body).encode("utf-8", "replace")
    return binascii.b2a_qp(raw, quotetabs=False, istext=True).replace(b"\n", b"\r\n")


@settings(max_examples=400, deadline=None)
@given(body=EDGES)
def test_line_by_line_quoted_printable_is_byte_identical_to_the_whole_body_encoding(body: str) -> None:
    assert quoted_printable(body) == whole_body_qp(body)
    assert quoted_printable(body) == whole_body_qp(body)  # the second time from the line cache


@pytest.mark.parametrize("end", [" ", "\t", ".", "=", "é", "x"])
@pytest.mark.parametrize("width", range(72, 80))
def test_lines_at_the_soft_break_width_encode_as_the_whole_body_did(width: int, end: str) -> None:
    line = "a" * (width - 1) + end
    for body in (line, line + "\n", f"{line}\n{line}", f".\n{line}\n.", end * width + "\n"):
        assert quoted_printable(body) == whole_body_qp(body), (width, end, body)


def test_the_line_cache_stays_bounded_and_right_when_it_overflows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mime._EncodedLines, "size", 16)
    monkeypatch.setattr(mime, "_ENCODED_LINES", mime._EncodedLines())
    lines = [f"ligne {n} où = rien " for n in range(40)]
    body = "\n".join(lines) + "\n"
    for _ in range(3):  # seen once, then kept, then read back
        assert quoted_printable(body) == whole_body_qp(body)
        assert len(mime._ENCODED_LINES) <= 16 and len(mime._ENCODED_LINES.seen_once) <= 16


def test_messages_of_one_second_share_the_date_header_but_each_zone_keeps_its_own() -> None:
    instant = datetime(2026, 11, 23, 9, 0, 5, 250, tzinfo=UTC)
    paris = instant.astimezone(timezone(timedelta(hours=1)))
    for date in (instant, instant.replace(microsecond=999_999), paris, instant + timedelta(seconds=1)):
        raw = build_mime(outgoing(date=date), SENDER, SENDER_NAME)
        assert raw.startswith(f"Date: {format_datetime(date)}\r\n".encode())
    assert b"+0100" in build_mime(outgoing(date=paris), SENDER, SENDER_NAME).split(b"\r\n")[0]


def test_build_mime_ends_every_line_with_crlf_whatever_the_input() -> None:
    raw = build_mime(outgoing(text="a\rb\r\nc\n", html="\r\r\n\n.", to_name="A\rB", subject="x\ny"),
                     SENDER, "N\r\nM")
    assert type(raw) is MimeBytes
    assert raw.count(b"\r\n") == raw.count(b"\r") == raw.count(b"\n")


@pytest.mark.parametrize("bad", list(' <>,;"()\\') + ["\r", "\n", "é", "\x7f"])
def test_an_address_holding_a_character_that_could_split_it_is_refused(bad: str) -> None:
    with pytest.raises(HeaderInjection, match="send 7: the recipient address"):
        plain_address(f"elo{bad}ise@example.org", send_id=7, role="recipient")
    assert plain_address("e.lo+ise!#$%&'*/=?^_`{|}~-@example.org", send_id=7, role="recipient")


def test_the_data_payload_repairs_line_ends_of_any_bytes_and_doubles_leading_dots() -> None:
    assert _data_payload(b".top\nmid\r.dot\r\n..two\rend") == (
        b"..top\r\nmid\r\n..dot\r\n...two\r\nend\r\n.\r\n")
    built = build_mime(outgoing(text=".une\n.deux\n"), SENDER, SENDER_NAME)
    assert _data_payload(built) == bytes(built).replace(b"\r\n.", b"\r\n..") + b".\r\n"


def test_bytes_not_built_here_still_arrive_with_crlf_and_their_dots(sink: SmtpSink) -> None:
    with transport_for(sink).open() as session:
        result = session.send(outgoing(), b"Subject: x\n\n.a\nb\rc")
    assert result.outcome is Outcome.sent
    [(_, raw)] = sink.messages
    assert raw.rstrip(b"\r\n").split(b"\r\n") == [b"Subject: x", b"", b".a", b"b", b"c"]


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server
