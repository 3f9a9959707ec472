"""Openings in a language the candidate reads; content for their language and field; never twice."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from vivier.messages.catalog import Catalog, load_catalog
from vivier.messages.context import Period, render_context
from vivier.messages.shown import Shown
from vivier.settings import load_settings
from vivier.store.schema import Content, Job

AS_OF = date(2026, 11, 25)
PUBLISHED = datetime(2026, 11, 20, tzinfo=UTC)


def job(title: str, languages: list[str] | None, locale: str = "fr", job_id: int = 0) -> dict:
    return {"id": job_id, "title": title, "company": "Acme", "location": "Lyon", "expertise": "Data",
            "url": f"https://jobs.example.org/{title}", "languages": languages, "locale": locale}


def candidate(locale: str, expertise: str = "Data") -> dict:
    return {"id": 1, "first_name": "Léa", "last_name": "Martin", "locale": locale, "city": "Lyon",
            "search_location": "Lyon", "expertise": expertise, "segment": "default"}


def test_an_opening_is_offered_only_in_a_language_the_candidate_reads() -> None:
    catalog = Catalog(jobs_by_expertise={"data": [
        job("french", ["fr"]), job("english", ["en"]), job("both", ["fr", "en"]),
        job("english-by-locale", None, locale="en-GB"), job("regional", ["fr-CA"])]})
    english = [o["title"] for o in catalog.openings_for("Data", {"lyon"}, "en")]
    french = [o["title"] for o in catalog.openings_for("Data", {"lyon"}, "fr")]
    assert english == ["english", "both", "english-by-locale"]
    assert french == ["french", "both", "regional"]


def test_an_opening_already_sent_to_the_candidate_is_not_offered_again() -> None:
    catalog = Catalog(jobs_by_expertise={"data": [job("old", ["fr"], job_id=1),
                                                  job("new", ["fr"], job_id=2)]})
    titles = [o["title"] for o in catalog.openings_for("Data", {"lyon"}, "fr", frozenset({1}))]
    assert titles == ["new"]


def _content(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(Content), [
            {"kind": kind, "locale": locale, "title": title, "url": f"https://blog.example.org/{n}",
             "tags": tags, "published_at": PUBLISHED - timedelta(days=n)}
            for n, (kind, locale, title, tags) in enumerate([
                ("article", "fr", "Le marché de l'emploi RH", ["Ressources humaines"]),
                ("article", "fr", "Devenir data engineer", ["data"]),
                ("article", "fr", "Tendances 2026", []),
                ("article", "en", "Hiring in 2026", []),
                ("tip", "fr", "Conseil un", []),
                ("tip", "fr", "Conseil deux", []),
            ])])
        conn.execute(sa.insert(Job), [
            {"external_id": f"J-{n}", "title": title, "company": "Acme", "location": "Lyon",
             "expertise": "Data", "url": f"https://jobs.example.org/{n}", "locale": locale,
             "languages": languages, "published_at": PUBLISHED}
            for n, (title, locale, languages) in enumerate([
                ("Data engineer", "fr", ["fr"]), ("Data Engineer", "en", ["en"])])])


def _context(engine: sa.Engine, cadence: str, person: dict, shown: Shown = Shown()) -> dict:
    settings = load_settings(secret_key="test-secret-key-of-at-least-32-bytes")
    with engine.connect() as conn:
        catalog = load_catalog(conn, AS_OF, settings.zone)
    return render_context(person, catalog, settings, Period(cadence, "2026-11", AS_OF), AS_OF, shown)


def test_monthly_content_follows_the_candidates_language_and_field(engine) -> None:
    _content(engine)
    developer = _context(engine, "monthly", candidate("fr", "Data"))
    assert [a["title"] for a in developer["content"]["articles"]] == [
        "Devenir data engineer", "Tendances 2026"]
    hr = _context(engine, "monthly", candidate("fr-FR", "Ressources humaines"))
    assert [a["title"] for a in hr["content"]["articles"]] == [
        "Le marché de l'emploi RH", "Tendances 2026"]
    english = _context(engine, "monthly", candidate("en", "Data"))
    assert [a["title"] for a in english["content"]["articles"]] == ["Hiring in 2026"]
    assert developer["openings"] == []  # the monthly letter shows no openings: none is recorded


def test_a_message_holds_only_what_its_cadence_shows_and_nothing_sent_before(engine) -> None:
    _content(engine)
    weekly = _context(engine, "weekly", candidate("fr"))
    assert [o["title"] for o in weekly["openings"]] == ["Data engineer"]
    assert [t["title"] for t in weekly["content"]["tips"]] == ["Conseil un"]  # the one it shows
    assert weekly["content"]["articles"] == []
    first_tip = weekly["content"]["tips"][0]["id"]
    later = _context(engine, "weekly", candidate("fr"),
                     Shown(jobs=frozenset({weekly["openings"][0]["id"]}),
                           content=frozenset({first_tip})))
    assert later["openings"] == []
    assert [t["title"] for t in later["content"]["tips"]] == ["Conseil deux"]
