"""The schema migrates from empty, identically on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from vivier.store import db
from vivier.store.schema import Base, Candidate, Run, Send

pytestmark = pytest.mark.both_dialects  # migrations and the schema, per dialect

EXPECTED_TABLES = {
    "candidates", "consents", "preferences", "suppressions", "jobs", "content",
    "sends", "interactions", "decisions", "runs",
}


def test_migration_creates_every_table_and_is_idempotent(db_url: str) -> None:
    assert db.current_tables(db_url) >= EXPECTED_TABLES
    db.upgrade(db_url)  # a second upgrade is a no-op, not an error
    assert db.current_tables(db_url) >= EXPECTED_TABLES


# SQLite cannot reflect the lower(email) index; PostgreSQL compares it too.
@pytest.mark.filterwarnings("ignore:autogenerate skipping", "ignore:Skipped unsupported reflection")
def test_migration_matches_the_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine_for(db_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_ledger_key_is_unique(engine: sa.Engine) -> None:
    with db.session_scope(engine) as session:
        session.add(Candidate(external_id="ATS-1", email="a@example.org", status="active"))
        session.add(Run(cadence="weekly", period_key="2026-W48"))
    with db.session_scope(engine) as session:
        session.add(Send(candidate_id=1, cadence="weekly", period_key="2026-W48"))
    with pytest.raises(IntegrityError), db.session_scope(engine) as session:
        session.add(Send(candidate_id=1, cadence="weekly", period_key="2026-W48"))


def test_datetimes_come_back_aware_utc(engine: sa.Engine) -> None:
    paris = timezone(timedelta(hours=1))
    with db.session_scope(engine) as session:
        session.add(Candidate(external_id="ATS-2", status="passive",
                              last_applied_at=datetime(2026, 1, 2, 10, 0, tzinfo=paris)))
    with db.session_scope(engine) as session:
        found = session.scalars(sa.select(Candidate.last_applied_at)).one()
    assert found == datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
    assert found.tzinfo is not None


def test_unknown_status_is_refused_by_the_database(engine: sa.Engine) -> None:
    with pytest.raises(IntegrityError), db.session_scope(engine) as session:
        session.add(Candidate(external_id="ATS-3", status="retired"))
