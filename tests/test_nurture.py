"""The nurture flow end to end on the Prefect test harness, on SQLite and PostgreSQL."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from data_checks import QualityGateFailed
from flows.nurture import nurture
from tests import builders
from vivier.rules.cadences import PeriodTooLate, period_key, today_in
from vivier.settings import Settings
from vivier.store.schema import Decision, Interaction, Send

pytestmark = pytest.mark.usefixtures("prefect_harness", "catalog")


def recipients(settings: Settings) -> list[str]:
    box = mailbox.Maildir(settings.maildir_path, create=True)
    return sorted(message["To"].addresses[0].addr_spec if hasattr(message["To"], "addresses")
                  else message["To"] for message in box)


def to_addresses(settings: Settings) -> list[str]:
    import email.policy
    from email import message_from_bytes

    folder = Path(settings.maildir_path) / "new"
    found = []
    for path in sorted(folder.glob("*")):
        parsed = message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found.append(parsed["To"].addresses[0].addr_spec)
    return sorted(found)


def decisions(engine: sa.Engine, dry_run: bool = False) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Decision.candidate_id, Decision.reason)
                            .where(Decision.dry_run == dry_run))
        return {row.candidate_id: row.reason for row in rows}


def email_of(engine: sa.Engine, candidate_id: int) -> str:
    from vivier.store.schema import Candidate

    with engine.connect() as conn:
        return conn.execute(sa.select(Candidate.email).where(Candidate.id == candidate_id)).scalar_one()


@pytest.fixture
def today(settings: Settings):
    return today_in(settings.zone)


def test_only_consenting_reachable_candidates_are_messaged(engine, settings, today) -> None:
    ok = builders.candidate(engine)
    withdrawn = builders.candidate(engine, consent="withdrawn")
    denied = builders.candidate(engine, consent="denied")
    never = builders.candidate(engine, consent=None)
    suppressed = builders.candidate(engine, suppressed=True)
    pool_none = builders.candidate(engine, frequency="none")
    monthly_by_choice = builders.candidate(engine, frequency="monthly")
    regranted = builders.candidate(engine, consent="withdrawn")
    builders.consent_event(engine, regranted, "granted", datetime.now(UTC) - timedelta(days=1))
    later_withdrawn = builders.candidate(engine)
    builders.consent_event(engine, later_withdrawn, "withdrawn", datetime.now(UTC))

    summary = nurture(cadence="weekly", as_of=today)

    sent_to = to_addresses(settings)
    assert sent_to == sorted([email_of(engine, ok), email_of(engine, regranted)])
    assert decisions(engine) == {
        withdrawn: "consent_withdrawn", denied: "consent_denied", never: "no_consent",
        suppressed: "suppressed", pool_none: "pool_none", later_withdrawn: "consent_withdrawn",
    }
    assert monthly_by_choice not in decisions(engine)  # another cadence's candidate
    assert summary["stages"]["sent"] == 2
    with engine.connect() as conn:
        ledger = conn.execute(sa.select(Send.candidate_id, Send.status, Send.template_version)).all()
        sent_events = conn.execute(sa.select(sa.func.count()).select_from(Interaction)
                                   .where(Interaction.kind == "message_sent")).scalar_one()
    assert {(row.candidate_id, row.status) for row in ledger} == {(ok, "sent"), (regranted, "sent")}
    assert all(row.template_version for row in ledger)
    assert sent_events == 2


def test_rerunning_a_period_sends_nothing_new(engine, settings, today) -> None:
    for _ in range(3):
        builders.candidate(engine)
    first = nurture(cadence="weekly", as_of=today)
    second = nurture(cadence="weekly", as_of=today)
    assert first["stages"]["sent"] == 3
    assert second["stages"].get("sent", 0) == 0
    assert second["reasons"] == {"already_sent": 3}
    assert len(to_addresses(settings)) == 3


def test_quality_gate_stops_the_run_before_any_send(engine, settings, today) -> None:
    for _ in range(6):
        builders.candidate(engine)
    for n in range(4):
        builders.candidate(engine, email=f"broken-{n}-at-example.org")
    with pytest.raises(QualityGateFailed, match="email_syntax 4"):
        nurture(cadence="weekly", as_of=today)
    assert to_addresses(settings) == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Send)).scalar_one() == 0


def test_a_rerun_judges_data_quality_over_the_whole_pool_not_just_the_unsent(
    engine, settings, today
) -> None:
    """Already-sent rows are not re-checked; they must still count as the good rows they are."""
    for _ in range(40):
        builders.candidate(engine)
    builders.candidate(engine, email="broken-at-example.org")  # 1 of 41: under the 5% gate
    assert nurture(cadence="weekly", as_of=today)["stages"]["sent"] == 40
    rerun = nurture(cadence="weekly", as_of=today)
    assert rerun["reasons"] == {"already_sent": 40, "invalid_data": 1}
    assert rerun["stages"]["settled"] == 40


def test_invalid_rows_are_quarantined_and_the_rest_is_sent(engine, settings, today) -> None:
    good = [builders.candidate(engine) for _ in range(40)]
    german = builders.candidate(engine, locale="de")
    header_trick = builders.candidate(engine, first_name="Eve\r\nBcc: victim@example.com")
    summary = nurture(cadence="weekly", as_of=today)
    assert summary["stages"]["sent"] == len(good)
    assert decisions(engine) == {german: "invalid_data", header_trick: "invalid_data"}
    with engine.connect() as conn:
        details = dict(conn.execute(sa.select(Decision.candidate_id, Decision.detail)).all())
    assert details[german] == "locale_supported"
    assert details[header_trick] == "names_clean"


def test_html_in_a_name_is_escaped(engine, settings, today) -> None:
    builders.candidate(engine, first_name="<script>alert(1)</script>")
    nurture(cadence="weekly", as_of=today)
    import email.policy
    from email import message_from_bytes

    (path,) = (Path(settings.maildir_path) / "new").glob("*")
    message = message_from_bytes(path.read_bytes(), policy=email.policy.default)
    html = message.get_body(("html",)).get_content()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_a_template_error_quarantines_only_that_candidate(engine, settings, today, tmp_path,
                                                          monkeypatch) -> None:
    import shutil

    from vivier.settings import get_settings

    templates = tmp_path / "templates"
    shutil.copytree(settings.templates_dir, templates)
    broken = builders.candidate(engine, city="Trap")
    fine = builders.candidate(engine)
    subject = templates / "weekly" / "fr" / "subject.txt"
    subject.write_text("{% if candidate.city == 'Trap' %}{{ no_such_variable }}{% endif %}"
                       + subject.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("VIVIER_TEMPLATES_DIR", str(templates))
    get_settings.cache_clear()
    summary = nurture(cadence="weekly", as_of=today)
    assert summary["stages"]["sent"] == 1
    assert to_addresses(get_settings()) == [email_of(engine, fine)]
    assert decisions(engine) == {broken: "render_error"}


def test_a_template_broken_for_everyone_fails_the_run(engine, settings, today, tmp_path,
                                                      monkeypatch) -> None:
    import shutil

    from vivier.settings import get_settings

    templates = tmp_path / "templates"
    shutil.copytree(settings.templates_dir, templates)
    (templates / "weekly" / "fr" / "subject.txt").write_text("{{ no_such_variable }}",
                                                            encoding="utf-8")
    builders.candidate(engine)
    monkeypatch.setenv("VIVIER_TEMPLATES_DIR", str(templates))
    get_settings.cache_clear()
    with pytest.raises(RuntimeError, match="every candidate failed to render"):
        nurture(cadence="weekly", as_of=today)
    assert to_addresses(get_settings()) == []


def test_a_late_period_is_refused_unless_forced(engine, settings, today) -> None:
    builders.candidate(engine)
    old = today - timedelta(days=30)
    with pytest.raises(PeriodTooLate, match="lateness limit"):
        nurture(cadence="weekly", as_of=old)
    assert to_addresses(settings) == []
    summary = nurture(cadence="weekly", as_of=old, force=True)
    assert summary["period_key"] == period_key("weekly", old)
    assert summary["stages"]["sent"] == 1


def test_dry_run_makes_the_real_runs_decisions_and_sends_nothing(engine, settings, today) -> None:
    for _ in range(20):
        builders.candidate(engine)
    builders.candidate(engine, consent="withdrawn")
    builders.candidate(engine, locale="de")
    builders.candidate(engine, frequency="none")
    dry = nurture(cadence="weekly", as_of=today, dry_run=True)
    assert to_addresses(settings) == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Send)).scalar_one() == 0
    assert dry["samples"] and all(Path(path).exists() for path in dry["samples"])
    real = nurture(cadence="weekly", as_of=today)
    assert decisions(engine, dry_run=True) == decisions(engine, dry_run=False)
    assert dry["stages"]["planned"] == real["stages"]["sent"] == 20


def test_recently_contacted_candidates_wait(engine, settings, today) -> None:
    recent = builders.candidate(engine, last_contacted_at=datetime.now(UTC) - timedelta(days=2))
    nurture(cadence="weekly", as_of=today)
    assert decisions(engine) == {recent: "recently_contacted"}


def test_segment_selection_and_limit(engine, settings, today) -> None:
    canada = builders.candidate(engine, expertise="Ressources humaines", search_location="Canada")
    builders.candidate(engine)
    builders.candidate(engine)
    summary = nurture(cadence="weekly", as_of=today, segments=["hr-canada"])
    assert to_addresses(settings) == [email_of(engine, canada)]
    assert summary["segments"]["hr-canada"]["sent"] == 1
    limited = nurture(cadence="weekly", as_of=today, limit=2)
    assert limited["stages"]["extracted"] == 2


def test_artifacts_and_logs_name_candidates_by_id_only(engine, settings, today, caplog) -> None:
    from prefect import get_client

    for _ in range(20):
        builders.candidate(engine, first_name="Zéphyrine", last_name="Quasimodo")
    builders.candidate(engine, email="not-an-address", first_name="Zéphyrine")
    with caplog.at_level("DEBUG"):
        summary = nurture(cadence="weekly", as_of=today)
    from uuid import UUID

    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(summary["flow_run_id"])])))
    keys = {artifact.key for artifact in artifacts}
    period = summary["period_key"].lower()
    assert {f"weekly-{period}-summary", f"weekly-{period}-quarantine"} <= keys
    published = " ".join(str(artifact.data) for artifact in artifacts) + caplog.text
    assert "example.org" not in published and "not-an-address" not in published
    assert "Zéphyrine" not in published and "Quasimodo" not in published
    quarantined = next(a for a in artifacts if a.key.endswith("quarantine"))
    assert "invalid_data" in str(quarantined.data)
