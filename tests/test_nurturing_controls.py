"""Reply pause, holdout and deliverability guardrails, through the real nurture flow."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.nurture import nurture
from testing.smtp import SmtpSink
from tests import builders
from vivier.rules.cadences import period_key, today_in
from vivier.rules.holdout import held_out
from vivier.rules.identity import email_hash
from vivier.settings import Settings, get_settings
from vivier.store.schema import Decision, Interaction, Run, Send, Suppression, utcnow

pytestmark = pytest.mark.usefixtures("prefect_harness", "catalog")


def configure(monkeypatch: pytest.MonkeyPatch, **values: object) -> Settings:
    for name, value in values.items():
        monkeypatch.setenv(f"VIVIER_{name.upper()}", str(value))
    get_settings.cache_clear()
    return get_settings()


def interaction(engine: sa.Engine, candidate_id: int, kind: str, days_ago: float) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(Interaction), {
            "candidate_id": candidate_id, "kind": kind, "details": {},
            "occurred_at": utcnow() - timedelta(days=days_ago)})


def reasons(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(Decision.candidate_id, Decision.reason)).all())


def sent_to(engine: sa.Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(Send.candidate_id).where(Send.status == "sent")).scalars())


def test_a_recent_reply_pauses_nurturing_and_an_old_one_does_not(engine, settings) -> None:
    replied_lately, replied_long_ago, quiet = (builders.candidate(engine) for _ in range(3))
    interaction(engine, replied_lately, "replied", days_ago=12)
    interaction(engine, replied_long_ago, "replied", days_ago=45)
    interaction(engine, quiet, "clicked", days_ago=1)  # only replies pause
    summary = nurture(cadence="weekly", as_of=today_in(settings.zone))
    assert summary["reasons"] == {"recent_reply": 1}
    assert reasons(engine) == {replied_lately: "recent_reply"}
    assert sent_to(engine) == {replied_long_ago, quiet}


def test_the_pause_length_is_a_setting(engine, settings, monkeypatch) -> None:
    configure(monkeypatch, reply_pause_days=7)
    cid = builders.candidate(engine)
    interaction(engine, cid, "replied", days_ago=12)
    nurture(cadence="weekly", as_of=today_in(settings.zone))
    assert sent_to(engine) == {cid}


def test_the_holdout_is_never_messaged_and_stable_across_reruns(
    engine, settings, monkeypatch, tmp_path: Path
) -> None:
    segments = tmp_path / "segments.yaml"
    segments.write_text("default_holdout: 0.3\nsegments: []\n", encoding="utf-8")
    configure(monkeypatch, segments_file=segments)
    ids = builders.many_candidates(engine, 60)
    day = today_in(settings.zone)
    key = period_key("weekly", day)
    expected = {cid for cid in ids if held_out(cid, "weekly", key, 0.3)}
    assert 5 < len(expected) < 35  # the fixture really exercises both groups

    first = nurture(cadence="weekly", as_of=day)
    assert first["reasons"] == {"holdout": len(expected)}
    assert set(reasons(engine)) == expected
    assert sent_to(engine) == set(ids) - expected

    monkeypatch.setenv("VIVIER_CONTACT_GAP_DAYS", "0")  # so the rerun reaches the holdout draw
    get_settings.cache_clear()
    nurture(cadence="weekly", as_of=day)
    with engine.connect() as conn:
        held = conn.execute(sa.select(Decision.candidate_id, Decision.segment)
                            .where(Decision.reason == "holdout")).all()
        sends = conn.execute(sa.select(sa.func.count()).select_from(Send)).scalar_one()
    assert {cid for cid, _ in held} == expected and len(held) == 2 * len(expected)
    assert {segment for _, segment in held} == {"default"}
    assert sends == len(ids) - len(expected)


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch):
    started: list[SmtpSink] = []

    def start(**behaviour: object) -> SmtpSink:
        server = SmtpSink(**behaviour).start()  # type: ignore[arg-type]
        configure(monkeypatch, transport="smtp", smtp_host="127.0.0.1", smtp_port=server.port,
                  smtp_tls="plain", task_retries=0)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def addresses(engine: sa.Engine, ids: list[int]) -> list[str]:
    from vivier.store.schema import Candidate

    with engine.connect() as conn:
        return list(conn.execute(sa.select(Candidate.email).where(Candidate.id.in_(ids))).scalars())


def test_a_bad_list_trips_the_bounce_guardrail_and_the_rerun_sends_the_rest(
    engine, settings, monkeypatch, smtp
) -> None:
    ids = builders.many_candidates(engine, 40)
    bad = addresses(engine, ids[:8])
    server = smtp(refuse_rcpt={address: 550 for address in bad})
    configure(monkeypatch, bounce_min_sample=10, send_chunk_size=5, batch_size=10,
              smtp_connections=1)
    day = today_in(settings.zone)
    with pytest.raises(RuntimeError, match=r"hard-bounce rate .* VIVIER_BOUNCE_RATE_LIMIT.*"
                                           r"left pending.*vivier run weekly --as-of"):
        nurture(cadence="weekly", as_of=day)
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.select(Send.candidate_id, Send.status)).all())
        suppressed = set(conn.execute(sa.select(Suppression.email_hash)).scalars())
        state = conn.execute(sa.select(Run.state)).scalars().all()
    assert list(statuses.values()).count("pending") >= 20  # stopped early, the rest kept
    assert {email_hash(address) for address in bad} <= suppressed
    assert "failed" in state or "stopped" in state

    summary = nurture(cadence="weekly", as_of=day)
    assert summary["reasons"]["suppressed"] == 8
    received = sorted(address for recipients, _ in server.messages for address in recipients)
    assert received == sorted(addresses(engine, ids[8:]))  # each good address exactly once


def test_a_high_complaint_rate_stops_before_any_message_leaves(
    engine, settings, monkeypatch, smtp
) -> None:
    server = smtp()
    configure(monkeypatch, complaint_min_sample=20)
    ids = [builders.candidate(engine) for _ in range(3)]
    for _ in range(20):
        interaction(engine, ids[0], "message_sent", days_ago=10)
    interaction(engine, ids[0], "complained", days_ago=2)  # 5% >> 0.1%
    interaction(engine, ids[1], "complained", days_ago=40)  # outside the window
    day = today_in(settings.zone)
    with pytest.raises(RuntimeError, match=r"complaint rate 5\.00% over the last 30 days \(1 "
                                           r"complaints for 20 messages\)"):
        nurture(cadence="weekly", as_of=day)
    assert server.count == 0
    with engine.connect() as conn:
        assert set(conn.execute(sa.select(Send.status)).scalars()) == {"pending"}

    configure(monkeypatch, complaint_rate_limit=0.1)
    summary = nurture(cadence="weekly", as_of=day)
    assert summary["stages"]["sent"] == 3 and server.count == 3
