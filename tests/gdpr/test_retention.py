"""Retention: who is due after the retention period without an active contact, and the monthly flow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
import sqlalchemy as sa

from tests import builders
from tests.gdpr.history import person_with_history
from tests.gdpr.scan import traces
from vivier.gdpr.retention import due_for_retention, last_active_contact, months_before
from vivier.store.schema import Candidate, Consent, Interaction, Preference, utcnow

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
OLD = datetime(2024, 6, 1, tzinfo=UTC)  # more than 24 months before NOW
RECENT = datetime(2025, 6, 1, tzinfo=UTC)  # within 24 months


@pytest.mark.parametrize(("moment", "months", "expected"), [
    (datetime(2026, 11, 25, 9, tzinfo=UTC), 24, datetime(2024, 11, 25, 9, tzinfo=UTC)),
    (datetime(2026, 3, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
    (datetime(2026, 2, 28, tzinfo=UTC), 24, datetime(2024, 2, 28, tzinfo=UTC)),
    (datetime(2024, 2, 29, tzinfo=UTC), 12, datetime(2023, 2, 28, tzinfo=UTC)),
    (datetime(2026, 1, 15, tzinfo=UTC), 13, datetime(2024, 12, 15, tzinfo=UTC)),
])
def test_the_retention_period_counts_calendar_months(moment, months, expected) -> None:
    assert months_before(moment, months) == expected


def interaction(engine: sa.Engine, candidate_id: int, kind: str, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(Interaction), {"candidate_id": candidate_id, "kind": kind,
                                              "details": {}, "occurred_at": at})


@pytest.mark.both_dialects  # the retention query's dates, per dialect
def test_only_what_the_person_did_recently_keeps_their_profile(engine) -> None:
    def old(**fields) -> int:
        return builders.candidate(engine, created_at=OLD, consent=None, **fields)

    silent = old()
    contacted_only = old(last_contacted_at=RECENT)  # our messages are not their contact
    opened = old()
    interaction(engine, opened, "opened", RECENT)  # a pixel fetched by a mail client
    bounced = old()
    interaction(engine, bounced, "bounced", RECENT)
    active = {kind: old() for kind in ("replied", "clicked", "applied", "consent_granted",
                                       "preference_changed", "unsubscribed")}
    for kind, candidate_id in active.items():
        interaction(engine, candidate_id, kind, RECENT)
    old(last_applied_at=RECENT)
    consented = old()
    builders.consent_event(engine, consented, "withdrawn", RECENT)
    chose = old()
    with engine.begin() as conn:
        conn.execute(sa.insert(Preference), {"candidate_id": chose, "frequency": "none",
                                             "updated_at": RECENT, "source": "preference_centre"})
    builders.candidate(engine, created_at=RECENT)
    replied_long_ago = old()
    interaction(engine, replied_long_ago, "replied", OLD + timedelta(days=1))

    with engine.connect() as conn:
        due = due_for_retention(conn, months_before(NOW, 24))
    assert due == sorted([silent, contacted_only, opened, bounced, replied_long_ago])
    with engine.connect() as conn:
        assert last_active_contact(conn, consented) == RECENT
        assert last_active_contact(conn, opened) == OLD


@pytest.mark.both_dialects
def test_an_erased_candidate_is_never_due_again(engine) -> None:
    from vivier.gdpr.anonymise import anonymise

    candidate_id = builders.candidate(engine, created_at=OLD)
    with engine.begin() as conn:
        anonymise(conn, [candidate_id], source="request")
    with engine.connect() as conn:
        assert due_for_retention(conn, months_before(NOW, 24)) == []


@pytest.mark.usefixtures("prefect_harness")
def test_the_retention_flow_anonymises_the_inactive_and_reports_their_ids_only(
    engine, settings, monkeypatch
) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.retention import retention
    from vivier.settings import get_settings

    monkeypatch.setenv("VIVIER_RETENTION_BATCH_SIZE", "2")  # several batches
    get_settings.cache_clear()
    inactive = [person_with_history(engine, "Zéphyrine", f"Quasimodo{n}", f"zq{n}@example.org",
                                    at=OLD - timedelta(days=400)) for n in range(3)]
    person_with_history(engine, "Barnabé", "Outremer", "bo@example.org",
                        at=utcnow() - timedelta(days=90))
    sample = settings.samples_dir / "weekly-2026-W48" / f"candidate-{inactive[0].id}.eml"
    sample.parent.mkdir(parents=True)
    sample.write_text(f"To: {inactive[0].email}")

    preview = retention(dry_run=True)
    assert preview["candidate_ids"] == [person.id for person in inactive]
    assert preview["anonymised"] == 0 and sample.exists()
    result = retention()
    again = retention()

    assert result["candidate_ids"] == [person.id for person in inactive]
    assert (again["due"], again["anonymised"]) == (0, 0)  # idempotent
    assert traces(engine, ["zq0@", "zq1@", "zq2@", "Zéphyrine", "Quasimodo"]) == []
    assert traces(engine, ["bo@example.org", "Outremer"])
    assert not sample.exists()  # rendered samples are personal data too
    with engine.connect() as conn:
        erased = conn.scalars(sa.select(Candidate.id).where(Candidate.erased_at.is_not(None))).all()
        marks = conn.execute(sa.select(Interaction.candidate_id, Interaction.flow_run_id)
                             .where(Interaction.kind == "erased")).all()
    assert sorted(erased) == result["candidate_ids"]
    assert {(cid, fid) for cid, fid in marks} == {(p.id, result["flow_run_id"]) for p in inactive}
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(result["flow_run_id"])])))
    table = next(a for a in artifacts if a.key == "retention-anonymised")
    assert sorted(row["candidate_id"] for row in _rows(table.data)) == result["candidate_ids"]
    published = " ".join(str(a.data) for a in artifacts)
    assert "example.org" not in published and "Quasimodo" not in published


def _rows(data) -> list[dict]:
    import json

    return json.loads(data) if isinstance(data, str) else data


@pytest.mark.both_dialects
def test_consent_log_rows_survive_retention_untouched_in_state_and_time(engine) -> None:
    from vivier.gdpr.retention import retire_batch

    person = person_with_history(engine, "Zéphyrine", "Quasimodo", "zq@example.org",
                                 at=OLD - timedelta(days=400))
    log = sa.select(Consent.id, Consent.state, Consent.recorded_at).order_by(Consent.id)
    with engine.connect() as conn:
        before = conn.execute(log).all()
    batch = retire_batch(engine, months_before(NOW, 24), 0, 10)
    with engine.connect() as conn:
        after = conn.execute(log).all()
    assert batch.anonymised == [person.id] and before == after
