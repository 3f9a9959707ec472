"""The SMTP transport's guarantees again, against a sink that announces PIPELINING (RFC 2920).

Every test of `test_smtp` runs here a second time: the pipelined envelope must keep each of
them (4xx retried, 5xx at RCPT a hard bounce, a drop before DATA retried, after DATA in doubt).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Self

import pytest

from testing.smtp import SmtpSink
from tests import test_smtp
from tests.test_smtp import *  # noqa: F403  (re-collected here, against the pipelining sink)
from tests.test_smtp import outgoing, send, transport_for
from vivier.transports import Outcome

pytestmark = pytest.mark.smtp


class PipeliningSink(SmtpSink):
    """The aiosmtpd sink, announcing PIPELINING (aiosmtpd reads pipelined commands; it never says so)."""

    def start(self) -> Self:
        super().start()
        assert self._controller is not None
        handler = self._controller.handler
        greet = handler.handle_EHLO

        async def handle_EHLO(server: Any, session: Any, envelope: Any, hostname: str,  # noqa: N802
                              responses: list[str]) -> list[str]:
            responses = await greet(server, session, envelope, hostname, responses)
            return [*responses[:-1], "250-PIPELINING", responses[-1]]

        handler.handle_EHLO = handle_EHLO
        return self


@pytest.fixture(autouse=True)
def pipelining_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(test_smtp, "SmtpSink", PipeliningSink)
    yield


def test_a_server_offering_pipelining_gets_the_envelope_in_one_write() -> None:
    with PipeliningSink() as sink, transport_for(sink).open() as session:
        assert session.pipelining
        assert [send(session, outgoing(n)).outcome for n in (1, 2)] == [Outcome.sent] * 2
    with SmtpSink() as plain, transport_for(plain).open() as session:
        assert not session.pipelining
        assert send(session, outgoing(3)).outcome is Outcome.sent
