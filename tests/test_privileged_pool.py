"""The privileged pool keeps its promise: a head start on new openings, messages signed by the
owner recruiter (else the team), and a report that shows the pool apart from the rest."""

from __future__ import annotations

import mailbox
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.commands.report import report as report_command
from tests import builders
from vivier.imports.candidates import import_candidates
from vivier.messages.catalog import Catalog
from vivier.messages.context import Period, render_context
from vivier.pipeline.run import run_period
from vivier.report import ReportFilters, build_report
from vivier.report.html import render_html
from vivier.report.model import PRIVILEGED, THE_REST
from vivier.rules.cadences import today_in
from vivier.settings import load_settings
from vivier.store.schema import Candidate, Decision, Send

PARIS = ZoneInfo("Europe/Paris")
SETTINGS = load_settings(secret_key="test-secret-key-of-at-least-32-bytes")


_job = builders.job


def _texts(outbox: Path) -> list[str]:
    """The text part of every message in a Maildir."""
    found = []
    for raw in mailbox.Maildir(str(outbox), factory=None, create=False):
        message = message_from_bytes(raw.as_bytes(), policy=policy.default)
        found.append(message.get_body(("plain",)).get_content())
    return found


# --- head start -----------------------------------------------------------------------------


def candidate(privileged: bool, **extra: object) -> dict:
    return {"id": 1, "first_name": "Léa", "last_name": "Martin", "locale": "fr", "city": "Lyon",
            "search_location": "Lyon", "expertise": "Data", "segment": "default",
            "email": "lea@example.org", "privileged": privileged, **extra}


def test_a_new_opening_goes_to_the_privileged_pool_first_and_to_everyone_after_the_head_start() -> None:
    head_start_from = datetime(2026, 11, 18, 23, 59, tzinfo=UTC)  # 7 days before the run's day
    fresh = {"id": 1, "title": "fresh", "company": "Acme", "location": "Lyon", "url": "https://j.example/1",
             "languages": ["fr"], "published_at": head_start_from + timedelta(days=6)}
    older = {**fresh, "id": 2, "title": "older", "published_at": head_start_from - timedelta(hours=1)}
    catalog = Catalog(jobs_by_expertise={"data": [fresh, older]}, head_start_from=head_start_from)
    period = Period("weekly", "2026-W48", date(2026, 11, 23))

    privileged = render_context(candidate(True), catalog, SETTINGS, period, date(2026, 11, 25))
    everyone = render_context(candidate(False), catalog, SETTINGS, period, date(2026, 11, 25))
    assert [o["title"] for o in privileged["openings"]] == ["fresh", "older"]
    assert [o["title"] for o in everyone["openings"]] == ["older"]


def test_a_run_shows_a_fresh_opening_to_the_pool_now_and_to_the_others_a_week_later(
    engine, resources
) -> None:
    today = today_in(resources.settings.zone)
    last_week = today - timedelta(days=7)
    fresh = _job(engine, "FRESH", datetime.combine(last_week - timedelta(days=1), time(9), UTC))
    insider = builders.candidate(engine, privileged=True)
    other = builders.candidate(engine)

    first = run_period(resources, "weekly", last_week, force=True)
    assert first.tally.stages["sent"] == 1 and first.tally.reasons["nothing_new"] == 1
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.select(Send.candidate_id, Send.privileged)).all())
        held = conn.scalar(sa.select(Decision.candidate_id).where(Decision.reason == "nothing_new"))
    assert rows == {insider: True} and held == other

    with engine.begin() as conn:  # the contact gap is over
        conn.execute(sa.update(Candidate).values(last_contacted_at=datetime(2025, 1, 1, tzinfo=UTC)))
    second = run_period(resources, "weekly", today)
    assert second.tally.stages["sent"] == 1  # the other one, now; the insider saw it already
    with engine.connect() as conn:
        assert conn.scalar(sa.select(Send.candidate_id).where(
            Send.period_key == second.period_key)) == other
        shown = conn.execute(sa.text("SELECT item_id FROM send_items")).scalars().all()
    assert shown == [fresh, fresh]  # once each: the insider a week before the other


# --- owner signature --------------------------------------------------------------------------


def test_a_privileged_candidates_message_is_signed_by_their_owner_else_by_the_team() -> None:
    catalog, period = Catalog(), Period("weekly", "2026-W48", date(2026, 11, 23))
    owner = {"owner_email": "sarah.tremblay@talents.example", "owner_name": "Sarah Tremblay"}

    def signed(**values: object) -> dict:
        return render_context(candidate(**values), catalog, SETTINGS, period, date(2026, 11, 25))["recruiter"]

    assert signed(privileged=True, **owner) == {"name": "Sarah Tremblay",
                                                "email": "sarah.tremblay@talents.example"}
    team = {"name": SETTINGS.recruiter_name, "email": SETTINGS.sender_address}
    assert signed(privileged=False, **owner) == team  # the pool's promise, not everyone's
    assert signed(privileged=True, owner_email=None, owner_name=None) == team  # no owner: the team
    assert signed(privileged=True, owner_email="sam@talents.example", owner_name=None) == {
        "name": "sam@talents.example", "email": "sam@talents.example"}


def test_the_sent_message_carries_the_owners_signature(engine, settings) -> None:
    from vivier.pipeline.resources import Resources

    resources = Resources.build(settings)
    today = today_in(settings.zone)
    builders.openings(engine, datetime.combine(today, time(9), UTC))
    builders.candidate(engine, privileged=True, owner_email="sarah.tremblay@talents.example",
                       owner_name="Sarah Tremblay")
    builders.candidate(engine, owner_email="marc.gagnon@talents.example", owner_name="Marc Gagnon")
    run_period(resources, "weekly", today)
    texts = _texts(Path(settings.maildir_path))
    assert len(texts) == 2
    assert sum("Sarah Tremblay\nsarah.tremblay@talents.example" in text for text in texts) == 1
    assert not any("Marc Gagnon" in text for text in texts)
    assert sum(settings.recruiter_name in text for text in texts) == 1


OWNER_HEADER = "external_id,email,first_name,last_name,locale,status,owner,owner_name"


@pytest.mark.both_dialects
def test_the_ats_import_reads_the_owner_and_rejects_a_bad_address_by_line(engine, tmp_path) -> None:
    path = tmp_path / "ats.csv"
    path.write_text("\n".join([
        OWNER_HEADER,
        "A-1,a1@example.org,Léa,Martin,fr,active,sarah.tremblay@talents.example,Sarah Tremblay",
        "A-2,a2@example.org,Noé,Roy,fr,active,,",
        "A-3,a3@example.org,Zoé,Petit,fr,active,Sarah Tremblay,",
    ]) + "\n", encoding="utf-8")
    report = import_candidates(engine, path)
    assert (report.imported, [(r.line, r.external_id) for r in report.rejected]) == (2, [(4, "A-3")])
    assert "owner" in report.rejected[0].reason and "owner_name" in report.rejected[0].reason
    with engine.connect() as conn:
        owners = dict(conn.execute(sa.select(Candidate.external_id, Candidate.owner_name)).all())
        emails = dict(conn.execute(sa.select(Candidate.external_id, Candidate.owner_email)).all())
    assert owners == {"A-1": "Sarah Tremblay", "A-2": None}
    assert emails == {"A-1": "sarah.tremblay@talents.example", "A-2": None}


# --- the report -------------------------------------------------------------------------------


def _send(conn: sa.Connection, candidate_id: int, key: str, privileged: bool, at: datetime) -> None:
    conn.execute(sa.insert(Send), {
        "candidate_id": candidate_id, "cadence": "weekly", "period_key": key, "status": "sent",
        "segment": "default", "privileged": privileged, "created_at": at, "sent_at": at})


@pytest.mark.both_dialects
def test_the_report_shows_the_privileged_pool_apart_from_the_rest(engine, settings, tmp_path) -> None:
    at = datetime(2026, 10, 5, 9, tzinfo=UTC)
    people = [builders.candidate(engine) for _ in range(5)]
    with engine.begin() as conn:
        for person in people[:2]:
            _send(conn, person, "2026-W41", True, at)
        for person in people[2:]:
            _send(conn, person, "2026-W41", False, at)
    figures = build_report(engine, ReportFilters(), 30, PARIS, now=at + timedelta(days=60))
    pools = {(row.cadence, row.pool): row.counts.sent for row in figures.by_pool}
    assert pools == {("weekly", PRIVILEGED): 2, ("weekly", THE_REST): 3,
                     ("all", PRIVILEGED): 2, ("all", THE_REST): 3}
    assert figures.total.sent == 5  # the usual rows are unchanged by the split
    html = render_html(figures, settings.templates_dir)
    assert 'id="pools"' in html and ">privileged<" in html and ">the rest<" in html

    result = CliRunner().invoke(_app(), [], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    assert "privileged pool vs the rest" in result.output and "the rest" in result.output


def _app():  # type: ignore[no-untyped-def]
    import typer

    app = typer.Typer()
    app.command()(report_command)
    return app


# --- what the survey and the renewal say -------------------------------------------------------


@pytest.mark.parametrize("language,promise,signed,invite", [
    ("en", "as soon as it is published, up to 10 days before the other candidates",
     "signed by the recruiter who follows your profile", "your field and where you are looking"),
    ("fr", "dès sa publication, jusqu'à 10 jours avant les autres candidats",
     "signés par le recruteur qui suit votre profil", "votre métier et l'endroit où vous cherchez"),
])
def test_the_survey_says_exactly_what_the_pool_does_and_invites_to_say_what_they_look_for(
    language: str, promise: str, signed: str, invite: str
) -> None:
    from vivier.messages.rendering import TEMPLATES_DIR, Renderer, sample_context

    context = sample_context()
    context["pool"]["head_start_days"] = 10
    context["period"]["cadence"] = "consent_survey"
    renderer = Renderer(TEMPLATES_DIR)
    survey = renderer.render("consent_survey", language, context).text
    assert promise in survey and signed in survey and invite in survey
    assert "before they are published" not in survey and "avant leur publication" not in survey
    renewal = renderer.render("consent_renewal", language, context).text
    assert ("Recruitment" if language == "en" else "Recrutement") in renewal  # their field today
    assert ("where you are looking" if language == "en" else "l'endroit où vous cherchez") in renewal
