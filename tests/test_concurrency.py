"""Two runs of one cadence and period at the same moment never send a message twice."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from flows.nurture import nurture
from testing.smtp import SmtpSink
from tests import builders
from vivier.rules.cadences import today_in
from vivier.settings import get_settings
from vivier.store.schema import Send

pytestmark = [pytest.mark.usefixtures("prefect_harness", "catalog"), pytest.mark.smtp,
              pytest.mark.both_dialects]  # two runs racing for the same claims, per dialect


def test_two_simultaneous_runs_of_a_period_send_each_message_once(engine, settings, monkeypatch) -> None:
    builders.many_candidates(engine, 300)
    with SmtpSink() as sink:
        for name, value in {"VIVIER_TRANSPORT": "smtp", "VIVIER_SMTP_PORT": str(sink.port),
                            "VIVIER_SMTP_TLS": "plain", "VIVIER_SEND_CHUNK_SIZE": "7",
                            "VIVIER_BATCH_SIZE": "40", "VIVIER_SMTP_CONNECTIONS": "2"}.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        today = today_in(settings.zone)
        start = threading.Barrier(2)
        results, errors = [], []

        def run() -> None:
            start.wait()
            try:
                results.append(nurture(cadence="weekly", as_of=today))
            except Exception as problem:  # surfaced by the assertion below
                errors.append(problem)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert errors == []
        received = Counter(address for rcpts, _ in sink.messages for address in rcpts)

    assert len(received) == 300
    assert max(received.values()) == 1  # zero duplicates
    assert sum(result["stages"].get("sent", 0) for result in results) == 300
    with engine.connect() as conn:
        assert dict(conn.execute(sa.select(Send.status, sa.func.count()).group_by(Send.status))
                    .all()) == {"sent": 300}
