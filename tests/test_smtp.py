"""The SMTP transport against a real server (aiosmtpd on 127.0.0.1) that misbehaves on demand."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from testing.postgres import free_port
from testing.smtp import SmtpSink
from vivier.messages.mime import OutgoingMessage, build_mime, message_id_for
from vivier.settings import Settings
from vivier.transports import Outcome, SendResult, TransportRefused, TransportUnavailable
from vivier.transports.ratelimit import TokenBucket
from vivier.transports.smtp import SmtpSession, SmtpTransport

from .test_transports import FakeClock

pytestmark = pytest.mark.smtp

SENDER = "talents@vivier.example"
NO_WAIT = (0.0,)


def outgoing(number: int, to_address: str | None = None) -> OutgoingMessage:
    return OutgoingMessage(
        send_id=number, candidate_id=number,
        to_address=to_address or f"candidate{number}@example.org",
        to_name="Éloïse Ĺ", subject=f"Vos offres n°{number} 🚀",
        html=f"<p>Bonjour Éloïse, offre {number}</p>\n", text=f"Bonjour Éloïse,\n.offre {number}\n",
        locale="fr", message_id=message_id_for("weekly", "2026-W48", number, "vivier.example"),
        unsubscribe_url=f"https://vivier.example/u/{number}",
        date=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
    )


def smtp_settings(sink: SmtpSink | None = None, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "transport": "smtp", "smtp_host": "127.0.0.1", "smtp_tls": "plain",
        "smtp_port": sink.port if sink else free_port(), "smtp_timeout_seconds": 5,
        "smtp_max_retries": 3, "sender_address": SENDER,
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


def transport_for(sink: SmtpSink | None = None, **overrides: object) -> SmtpTransport:
    return SmtpTransport(smtp_settings(sink, **overrides), backoff=NO_WAIT)


def send(session: SmtpSession, message: OutgoingMessage) -> SendResult:
    return session.send(message, build_mime(message, SENDER, "L'équipe talents"))


def parsed(raw: bytes) -> EmailMessage:
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


def test_a_delivered_message_parses_back_with_its_headers_and_parts(sink: SmtpSink) -> None:
    with transport_for(sink).open() as session:
        result = send(session, outgoing(1))
    assert (result.outcome, result.smtp_code) == (Outcome.sent, 250)
    [(recipients, raw)] = sink.messages
    assert recipients == ["candidate1@example.org"]
    mail = parsed(raw)
    assert mail["To"].addresses[0].display_name == "Éloïse Ĺ"
    assert mail["Subject"] == "Vos offres n°1 🚀"
    assert mail["Message-ID"] == "<weekly.2026-W48.c1@vivier.example>"
    assert mail["List-Unsubscribe"] == "<https://vivier.example/u/1>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    plain, html = mail.iter_parts()
    assert plain.get_content().replace("\r\n", "\n") == "Bonjour Éloïse,\n.offre 1\n"  # dot kept
    assert html.get_content().replace("\r\n", "\n") == "<p>Bonjour Éloïse, offre 1</p>\n"


def test_a_header_injection_attempt_arrives_as_a_harmless_name(sink: SmtpSink) -> None:
    message = outgoing(1)
    attack = "Eve\r\nBcc: victim@example.org"
    with transport_for(sink).open() as session:
        raw_mime = build_mime(replace(message, to_name=attack, subject=attack), SENDER, attack)
        assert session.send(message, raw_mime).outcome is Outcome.sent
    [(recipients, raw)] = sink.messages
    mail = parsed(raw)
    assert recipients == ["candidate1@example.org"] and mail["Bcc"] is None
    assert mail["Subject"] == "Eve Bcc: victim@example.org"


def test_one_connection_carries_every_message_of_a_session(sink: SmtpSink) -> None:
    with transport_for(sink).open() as session:
        results = [send(session, outgoing(n)) for n in range(1, 31)]
        assert session.connections == 1
    assert [r.outcome for r in results] == [Outcome.sent] * 30
    assert (sink.count, sink.connections) == (30, 1)


def test_a_transient_refusal_is_retried_then_accepted() -> None:
    with SmtpSink(transient_failures=2) as sink, transport_for(sink).open() as session:
        result = send(session, outgoing(1))
        assert (result.outcome, sink.count, sink.connections) == (Outcome.sent, 1, 1)


def test_a_transient_refusal_beyond_the_retries_is_failed() -> None:
    with SmtpSink(transient_failures=10) as sink:
        with transport_for(sink, smtp_max_retries=2).open() as session:
            result = send(session, outgoing(1))
        assert (result.outcome, result.smtp_code, sink.count) == (Outcome.failed, 451, 0)
        assert "451" in result.detail and "3 attempts" in result.detail


def test_an_unknown_mailbox_is_a_hard_bounce_and_the_session_goes_on() -> None:
    gone = "gone@example.org"
    with SmtpSink(refuse_rcpt={gone: 550}) as sink, transport_for(sink).open() as session:
        bounced = send(session, outgoing(1, gone))
        after = send(session, outgoing(2))
        assert (bounced.outcome, bounced.smtp_code) == (Outcome.hard_bounce, 550)
        assert after.outcome is Outcome.sent
        assert sink.received_for(gone) == [] and sink.count == 1 and sink.connections == 1
        assert gone not in bounced.detail and "5.1.1" in bounced.detail


def test_a_policy_refusal_is_failed_not_a_hard_bounce() -> None:
    # 5.7.x is the server's policy (relay, spam, auth), not a dead mailbox: never suppress on it.
    blocked = "blocked@example.org"
    with SmtpSink(refuse_rcpt={blocked: 554}) as sink, transport_for(sink).open() as session:
        result = send(session, outgoing(1, blocked))
    assert (result.outcome, result.smtp_code) == (Outcome.failed, 554)


def test_a_link_dropped_before_data_is_resumed_without_duplicates() -> None:
    with SmtpSink(drop_before_data={3, 7}) as sink:
        with transport_for(sink).open() as session:
            results = [send(session, outgoing(n)) for n in range(1, 11)]
            assert session.connections == 3
        assert [r.outcome for r in results] == [Outcome.sent] * 10
        assert sink.count == 10
        for n in range(1, 11):
            assert len(sink.received_for(f"candidate{n}@example.org")) == 1


def test_a_link_dropped_after_data_is_in_doubt_and_never_resent() -> None:
    with SmtpSink(drop_after_data={2}) as sink:
        with transport_for(sink).open() as session:
            results = [send(session, outgoing(n)) for n in (1, 2, 3)]
        assert [r.outcome for r in results] == [Outcome.sent, Outcome.in_doubt, Outcome.sent]
        assert len(sink.received_for("candidate2@example.org")) == 1
        assert sink.count == 3 and sink.connections == 2
        assert "candidate2" not in results[1].detail


def test_a_refused_connection_names_host_port_and_what_to_check() -> None:
    transport = transport_for(None)
    with pytest.raises(TransportUnavailable) as refused:
        transport.open()
    message = str(refused.value)
    assert f"127.0.0.1:{transport.port}" in message and "VIVIER_SMTP_HOST/PORT" in message


def test_starttls_against_a_plain_server_points_at_the_tls_setting(sink: SmtpSink) -> None:
    with pytest.raises(TransportUnavailable, match="VIVIER_SMTP_TLS"):
        transport_for(sink, smtp_tls="starttls").open()


def test_a_server_gone_mid_session_stops_the_run_before_handing_the_message_over() -> None:
    sink = SmtpSink().start()
    session = transport_for(sink, smtp_max_retries=1).open()
    assert send(session, outgoing(1)).outcome is Outcome.sent
    sink.stop()
    with pytest.raises(TransportUnavailable, match="refused connection"):
        send(session, outgoing(2))
    session.close()
    assert sink.count == 1


def test_login_is_used_when_a_user_is_set() -> None:
    with SmtpSink(auth=("vivier", "s3cret")) as sink:
        with transport_for(sink, smtp_user="vivier", smtp_password="s3cret").open() as session:
            assert send(session, outgoing(1)).outcome is Outcome.sent
        with pytest.raises(TransportUnavailable, match="VIVIER_SMTP_PASSWORD") as refused:
            transport_for(sink, smtp_user="vivier", smtp_password="wrong").open()
        assert "wrong" not in str(refused.value)
        with transport_for(sink).open() as anonymous, \
                pytest.raises(TransportRefused, match="refused at MAIL: 530 5.7.0") as no_auth:
            send(anonymous, outgoing(2))  # every message would get it: the run stops, no bounce
        assert "VIVIER_SMTP_USER" in str(no_auth.value)
        assert sink.count == 1


def test_the_rate_limit_spans_all_sessions_of_a_transport(sink: SmtpSink) -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock, sleep=clock.sleep)
    transport = SmtpTransport(smtp_settings(sink), backoff=NO_WAIT, bucket=bucket)
    with transport.open() as first, transport.open() as second:
        for n in range(1, 4):
            send(first, outgoing(n))
            send(second, outgoing(10 + n))
    assert sink.count == 6
    assert clock.now == pytest.approx(0.5)  # 6 sends at 10/s: the first free, five 0.1 s waits


def test_a_malformed_recipient_is_failed_without_touching_the_server(sink: SmtpSink) -> None:
    with transport_for(sink).open() as session:
        result = session.send(outgoing(1, "x@example.org\r\nRCPT TO:<victim@example.org>"), b"")
    assert result.outcome is Outcome.failed and "victim" not in result.detail
    assert sink.count == 0


def test_the_sink_stops_without_leaving_a_thread() -> None:
    before = threading.active_count()
    with SmtpSink(drop_after_data={1}) as sink, transport_for(sink).open() as session:
        send(session, outgoing(1))
    assert threading.active_count() == before


def test_the_pre_flight_check_logs_in_and_says_noop(sink: SmtpSink) -> None:
    transport_for(sink).check()
    assert sink.connections == 1 and sink.count == 0  # nothing sent


def test_the_pre_flight_check_names_the_setting_when_no_server_answers() -> None:
    with pytest.raises(TransportUnavailable, match="VIVIER_SMTP_HOST/PORT"):
        transport_for().check()


@pytest.mark.parametrize("reply,expected", [
    ("550 5.1.1 No such mailbox", Outcome.hard_bounce),  # about the recipient: theirs alone
    ("500 5.0.0 Content refused", TransportRefused),  # about us: every message would get it
    ("554 5.7.1 Message rejected by policy", TransportRefused),
])
def test_a_permanent_refusal_at_the_end_of_data_is_the_recipients_only_when_it_says_so(
    reply: str, expected: object,
) -> None:
    with SmtpSink(refuse_data=reply) as sink, transport_for(sink).open() as session:
        if expected is TransportRefused:
            with pytest.raises(TransportRefused, match=f"end of DATA: {reply[:9]}"):
                send(session, outgoing(1))
        else:
            assert send(session, outgoing(1)).outcome is expected
        assert sink.count == 0
