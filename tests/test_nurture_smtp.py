"""The nurture flow against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import email.policy
from email import message_from_bytes

import pytest
import sqlalchemy as sa

from flows.nurture import nurture
from testing.smtp import SmtpSink
from tests import builders
from vivier.rules.cadences import today_in
from vivier.rules.identity import email_hash
from vivier.settings import Settings, get_settings
from vivier.store.schema import Interaction, Send, Suppression

pytestmark = [pytest.mark.usefixtures("prefect_harness", "catalog"), pytest.mark.smtp]


@pytest.fixture
def sink(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    def start(**behaviour) -> SmtpSink:
        server = SmtpSink(**behaviour).start()
        monkeypatch.setenv("VIVIER_TRANSPORT", "smtp")
        monkeypatch.setenv("VIVIER_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("VIVIER_SMTP_PORT", str(server.port))
        monkeypatch.setenv("VIVIER_SMTP_TLS", "plain")
        monkeypatch.setenv("VIVIER_TASK_RETRIES", "0")
        get_settings.cache_clear()
        started.append(server)
        return server

    started: list[SmtpSink] = []
    yield start
    for server in started:
        server.stop()


def emails(engine: sa.Engine, ids: list[int]) -> list[str]:
    from vivier.store.schema import Candidate

    with engine.connect() as conn:
        return list(conn.execute(sa.select(Candidate.email).where(Candidate.id.in_(ids))
                                 .order_by(Candidate.id)).scalars())


def statuses(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(Send.candidate_id, Send.status)).all())


def test_delivered_message_has_the_promised_headers_and_parts(engine, settings, sink) -> None:
    server = sink()
    (cid,) = [builders.candidate(engine, first_name="Éloïse", last_name="Dupré")]
    (address,) = emails(engine, [cid])
    summary = nurture(cadence="weekly", as_of=today_in(settings.zone))
    assert summary["stages"]["sent"] == 1
    (raw,) = server.received_for(address)
    message = message_from_bytes(raw, policy=email.policy.default)
    assert message["To"].addresses[0].addr_spec == address
    assert message["To"].addresses[0].display_name == "Éloïse Dupré"
    assert message["From"].addresses[0].addr_spec == get_settings().sender_address
    assert message["Message-ID"] == f"<weekly.{summary['period_key']}.c{cid}@vivier.example>"
    assert message["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/u/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Content-Language"] == "fr"
    assert message["Date"] is not None and "Éloïse" in message["Subject"] + message.get_body(
        ("plain",)).get_content()
    assert "Éloïse" in message.get_body(("html",)).get_content()
    with engine.connect() as conn:
        (message_id,) = conn.execute(sa.select(Send.message_id)).scalars()
    assert message_id == message["Message-ID"]


def test_a_4xx_is_retried_and_delivered_once(engine, settings, sink) -> None:
    server = sink(transient_failures=2)
    ids = [builders.candidate(engine) for _ in range(3)]
    nurture(cadence="weekly", as_of=today_in(settings.zone))
    assert server.count == 3
    assert sorted(a for rcpts, _ in server.messages for a in rcpts) == sorted(emails(engine, ids))
    assert set(statuses(engine).values()) == {"sent"}


def test_a_5xx_suppresses_the_address_and_the_next_run_excludes_it(engine, settings, sink) -> None:
    ids = [builders.candidate(engine) for _ in range(3)]
    bad = emails(engine, ids[:1])[0]
    server = sink(refuse_rcpt={bad: 550})
    summary = nurture(cadence="weekly", as_of=today_in(settings.zone))
    assert summary["stages"]["hard_bounce"] == 1 and summary["stages"]["sent"] == 2
    assert server.received_for(bad) == []
    assert statuses(engine)[ids[0]] == "failed"
    with engine.connect() as conn:
        suppressed = set(conn.execute(sa.select(Suppression.email_hash)).scalars())
        bounced = conn.execute(sa.select(Interaction.candidate_id).where(
            Interaction.kind == "bounced")).scalars().all()
    assert email_hash(bad) in suppressed
    assert bounced == [ids[0]]
    rerun = nurture(cadence="weekly", as_of=today_in(settings.zone))
    assert rerun["reasons"].get("suppressed") == 1
    assert server.received_for(bad) == []


def test_a_dropped_connection_resumes_without_duplicates(engine, settings, sink) -> None:
    server = sink(drop_before_data={2, 4})
    ids = [builders.candidate(engine) for _ in range(5)]
    summary = nurture(cadence="weekly", as_of=today_in(settings.zone))
    assert summary["stages"]["sent"] == 5
    received = sorted(a for rcpts, _ in server.messages for a in rcpts)
    assert received == sorted(emails(engine, ids))  # each exactly once


def test_a_drop_after_data_is_in_doubt_and_never_resent_silently(engine, settings, sink) -> None:
    server = sink(drop_after_data={2})
    [builders.candidate(engine) for _ in range(4)]
    first = nurture(cadence="weekly", as_of=today_in(settings.zone))
    assert first["stages"]["in_doubt"] == 1 and first["stages"]["sent"] == 3
    assert server.count == 4  # the server did get it: that is why it is in doubt
    second = nurture(cadence="weekly", as_of=today_in(settings.zone))
    assert second["reasons"] == {"already_sent": 3, "in_doubt": 1}
    assert server.count == 4


def test_smtp_down_fails_with_a_next_step_and_the_rerun_finishes(engine, settings, sink) -> None:
    server = sink()
    port = server.port
    server.stop()
    [builders.candidate(engine) for _ in range(3)]
    with pytest.raises(RuntimeError, match=rf"refused connection at 127.0.0.1:{port}.*0 of 3 sent.*"
                                           r"vivier run weekly --as-of"):
        nurture(cadence="weekly", as_of=today_in(settings.zone))
    assert set(statuses(engine).values()) == {"pending"}
    again = sink()
    summary = nurture(cadence="weekly", as_of=today_in(settings.zone))
    assert summary["stages"]["sent"] == 3 and again.count == 3


@pytest.mark.parametrize("behaviour,step", [
    ({"refuse_data": "500 5.0.0 Content refused"}, "end of DATA: 500"),
    ({"refuse_mail": "554 5.7.1 Relay access denied"}, "MAIL: 554"),
])
def test_a_server_refusing_every_message_fails_the_run_at_once_and_sends_the_rest_later(
    engine, settings, sink, behaviour, step,
) -> None:
    """Green means sent: a permanent refusal that is not about the recipient stops the run."""
    ids = [builders.candidate(engine) for _ in range(30)]
    server = sink(**behaviour)
    with pytest.raises(RuntimeError, match="refuses every message") as stopped:
        nurture(cadence="weekly", as_of=today_in(settings.zone))
    assert step in str(stopped.value) and "Retry this flow run in the Prefect UI" in str(stopped.value)
    assert "prefect deployment run nurture/weekly --param as_of=" in str(stopped.value)
    assert server.count == 0
    assert set(statuses(engine).values()) == {"pending"}  # nothing failed for good, nothing suppressed
    with engine.connect() as conn:
        from vivier.store.schema import Run
        run = conn.execute(sa.select(Run.state, Run.summary)).one()
        assert conn.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 0
    assert run.state == "failed" and run.summary["seconds"] > 0  # the failed run keeps its duration
    assert run.summary["stages"].get("sent", 0) == 0
    server.stop()

    fixed = sink()  # the relay was fixed: the rerun sends each message once
    assert nurture(cadence="weekly", as_of=today_in(settings.zone))["stages"]["sent"] == len(ids)
    assert fixed.count == len(ids)


def test_a_run_whose_failed_share_passes_the_limit_fails_with_failures_by_reason(
    engine, settings, sink, monkeypatch,
) -> None:
    people = [builders.candidate(engine) for _ in range(20)]
    refused = emails(engine, people[:4])  # 20% refused at RCPT (not a mailbox problem: no bounce)
    monkeypatch.setenv("VIVIER_FAILED_MIN_SAMPLE", "10")
    sink(refuse_rcpt={address: 554 for address in refused})
    with pytest.raises(RuntimeError, match=r"4 of 20 messages failed \(20.0%, above VIVIER_FAILED_SHARE_LIMIT"
                       r"=2.0%\): refused at RCPT: 554 5.7.1 ×4"):
        nurture(cadence="weekly", as_of=today_in(settings.zone))
    with engine.connect() as conn:
        from vivier.store.schema import Run
        summary = conn.execute(sa.select(Run.summary)).scalar_one()
    assert summary["failures"] == {"refused at RCPT: 554 5.7.1": 4}
    assert summary["stages"]["sent"] == 16 and summary["outcome"] == "failed"

    from typer.testing import CliRunner

    from app.cli import app
    shown = CliRunner().invoke(app, ["status", "weekly", "--period", summary["period_key"]])
    assert shown.exit_code == 0 and "refused at RCPT: 554 5.7.1" in shown.output


def test_a_few_recipient_refusals_under_the_limit_complete_the_run(engine, settings, sink) -> None:
    people = [builders.candidate(engine) for _ in range(60)]
    sink(refuse_rcpt={emails(engine, people[:1])[0]: 554})  # 1 of 60: under 2%
    summary = nurture(cadence="weekly", as_of=today_in(settings.zone))
    assert summary["outcome"] == "completed" and summary["stages"]["failed"] == 1


def progress_of(key: str) -> float:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        (latest,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), limit=1,
            sort="CREATED_DESC")
    return float(latest.data)  # type: ignore[arg-type]


def test_the_progress_artifacts_count_messages_not_batches(engine, settings, sink) -> None:
    for _ in range(12):
        builders.candidate(engine)
    server = sink(refuse_data="500 5.0.0 Content refused")
    with pytest.raises(RuntimeError, match="refuses every message"):
        nurture(cadence="weekly", as_of=today_in(settings.zone))
    with engine.connect() as conn:
        from vivier.store.schema import Run
        key = conn.execute(sa.select(Run.period_key)).scalar_one()
    stem = f"weekly-{key}".lower()
    assert progress_of(f"{stem}-planning") == 100.0
    assert progress_of(f"{stem}-sending") == 0.0  # one batch, nothing handed over: not 100%
    server.stop()

    sink()
    nurture(cadence="weekly", as_of=today_in(settings.zone))
    assert progress_of(f"{stem}-sending") == 100.0
