"""Demo seeding: deterministic, idempotent, realistic enough, and messy on purpose (~2%)."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import app
from demo.seed import anchor_of, seed_demo
from tests.conftest import TEMPLATE_DB
from vivier.rules.contact import CONTROL, is_supported_locale, is_valid_email
from vivier.rules.vocabulary import CANADA_LOCATIONS, HR_EXPERTISE
from vivier.store import db
from vivier.store.schema import Base, Candidate, Consent, Content, Job, Preference, Suppression

PARIS = ZoneInfo("Europe/Paris")
AS_OF = date(2026, 3, 2)
ANCHOR = anchor_of(AS_OF, PARIS)
RESERVED_DOMAINS = ("example.org", "example.com", "example.net")


@pytest.fixture
def other_db_url(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second fresh database of the same kind as `db_url`."""
    if db_url.startswith("sqlite"):
        path = tmp_path / "other.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        db.engine_for(f"sqlite:///{path}").dispose()
        return
    server = request.getfixturevalue("pg_server")
    name = f"other{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**8}"
    admin = sa.create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}"))
    yield server.url(name)
    db.engine_for(server.url(name)).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def dump(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in primary-key order."""
    with engine.connect() as conn:
        return {
            table.name: [tuple(row) for row in conn.execute(
                sa.select(table).order_by(*table.primary_key.columns))]
            for table in Base.metadata.sorted_tables
        }


def candidates_of(engine: sa.Engine) -> list[Candidate]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(Candidate).order_by(Candidate.id)).all())


def test_same_count_seed_and_date_give_identical_databases(
    engine: sa.Engine, other_db_url: str
) -> None:
    seed_demo(engine, 600, 7, AS_OF, PARIS)
    seed_demo(db.engine_for(other_db_url), 600, 7, AS_OF, PARIS)
    first, second = dump(engine), dump(db.engine_for(other_db_url))
    assert len(first["candidates"]) == 600 and len(first["consents"]) > 400
    assert first == second


def test_another_seed_gives_other_candidates(engine: sa.Engine, other_db_url: str) -> None:
    seed_demo(engine, 50, 7, AS_OF, PARIS)
    seed_demo(db.engine_for(other_db_url), 50, 8, AS_OF, PARIS)
    assert dump(engine)["candidates"] != dump(db.engine_for(other_db_url))["candidates"]


def test_seeding_twice_adds_nothing_and_growing_adds_only_the_new(engine: sa.Engine) -> None:
    seed_demo(engine, 300, 7, AS_OF, PARIS)
    before = dump(engine)
    again = seed_demo(engine, 300, 7, AS_OF, PARIS)
    assert (again.candidates, again.consents, again.jobs, again.content) == (0, 0, 0, 0)
    assert again.skipped_candidates == 300
    assert dump(engine) == before
    grown = seed_demo(engine, 400, 7, AS_OF, PARIS)
    assert (grown.candidates, grown.skipped_candidates) == (100, 300)
    assert len(candidates_of(engine)) == 400


def test_about_two_percent_of_candidates_are_messy_on_purpose(engine: sa.Engine) -> None:
    summary = seed_demo(engine, 3000, 7, AS_OF, PARIS)
    people = candidates_of(engine)
    emails = Counter(person.email for person in people)

    def messy(person: Candidate) -> bool:
        return (not is_valid_email(person.email or "") or not (person.first_name or "").strip()
                or not is_supported_locale(person.locale) or emails[person.email] > 1
                or bool(CONTROL.search(person.first_name or ""))
                or "<script>" in (person.last_name or "") or len(person.first_name or "") > 100)

    found = sum(messy(person) for person in people)
    assert 0.01 * 3000 <= found <= 0.035 * 3000
    # every damaged row is caught; a duplicated email also flags the row it copies
    assert summary.messy_candidates <= found <= 1.5 * summary.messy_candidates
    domains = {person.email.partition("@")[2] for person in people if "@" in person.email}
    assert domains <= {*RESERVED_DOMAINS, ""}  # "": the deliberately broken "name@"


def test_demo_pool_looks_like_a_real_one(engine: sa.Engine) -> None:
    seed_demo(engine, 3000, 7, AS_OF, PARIS)
    people = candidates_of(engine)
    share = Counter(person.status for person in people)
    assert 0.33 < share["active"] / 3000 < 0.47 and 0.18 < share["former"] / 3000 < 0.32
    assert all(p.last_applied_at for p in people if p.status in ("active", "former"))
    assert {"fr", "en", "fr-CA", "en-GB"} <= {p.locale for p in people}
    canada_hr = [p for p in people
                 if p.expertise == HR_EXPERTISE and p.search_location in CANADA_LOCATIONS]
    assert 0.05 * 3000 < len(canada_hr) < 0.2 * 3000
    recent = [p for p in people if p.last_contacted_at
              and ANCHOR - p.last_contacted_at < timedelta(days=6)]
    assert 10 < len(recent) < 0.1 * 3000
    assert all(p.created_at <= ANCHOR and (p.last_applied_at or ANCHOR) <= ANCHOR for p in people)
    with engine.connect() as conn:
        consents = conn.execute(sa.select(Consent.candidate_id, Consent.state, Consent.recorded_at)
                                .order_by(Consent.candidate_id, Consent.recorded_at)).all()
        preferences = Counter(conn.scalars(sa.select(Preference.frequency)))
        suppressions = conn.scalar(sa.select(sa.func.count()).select_from(Suppression))
    latest = {candidate_id: state for candidate_id, state, _ in consents}
    in_force = Counter(latest.values())
    assert 0.10 < 1 - len(latest) / 3000 < 0.20  # never asked
    assert 0.62 < in_force["granted"] / 3000 < 0.78
    assert 0.02 < in_force["denied"] / 3000 < 0.08
    assert in_force["withdrawn"] > 0 and all(at <= ANCHOR for _, _, at in consents)
    regranted = Counter(candidate_id for candidate_id, _, _ in consents)
    assert max(regranted.values()) == 3
    assert 0.10 < sum(preferences.values()) / 3000 < 0.20
    assert 0.02 < preferences["none"] / 3000 < 0.06
    assert 1 <= suppressions < 0.02 * 3000


def test_openings_and_content_are_fresh_and_on_demo_sites(engine: sa.Engine) -> None:
    seed_demo(engine, 0, 7, AS_OF, PARIS)
    with engine.connect() as conn:
        jobs = conn.execute(sa.select(Job)).all()
        content = conn.execute(sa.select(Content)).all()
    assert len(jobs) == 60 and {job.locale for job in jobs} == {"fr", "en"}
    assert all(job.url.startswith("https://jobs.vivier.example/") for job in jobs)
    assert all(ANCHOR - timedelta(days=40) <= job.published_at <= ANCHOR for job in jobs)
    closed = [job for job in jobs if job.closes_at and job.closes_at < ANCHOR]
    assert 0 < len(closed) < 20
    assert any(job.expertise == HR_EXPERTISE and job.location in CANADA_LOCATIONS for job in jobs)
    assert {item.kind for item in content} == {"article", "news", "event", "tip", "success_story"}
    assert all(item.url.startswith("https://blog.vivier.example/") for item in content)
    assert all(ANCHOR - timedelta(days=121) <= item.published_at <= ANCHOR for item in content)
    events = [item for item in content if item.kind == "event"]
    assert events and all(ANCHOR < item.event_at < ANCHOR + timedelta(weeks=7) for item in events)


def test_cli_seeds_and_prints_counts(settings: object) -> None:
    result = CliRunner().invoke(app, ["seed", "--candidates", "120", "--seed", "7",
                                      "--as-of", "2026-03-02"])
    assert result.exit_code == 0, result.output
    assert "candidates" in result.output and "120" in result.output
    bad = CliRunner().invoke(app, ["seed", "--as-of", "March 2nd"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


def test_default_as_of_is_today_in_the_team_zone(settings: object) -> None:
    result = CliRunner().invoke(app, ["seed", "--candidates", "5"])
    today = datetime.now(UTC).astimezone(PARIS).date()
    assert result.exit_code == 0 and str(today) in result.output
