"""What fills a period's messages: open jobs that match a candidate, and the period's content."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, or_, select

from vivier.rules.contact import language_of
from vivier.rules.places import REMOTE, covered_by, place
from vivier.store.schema import Content, Job

MAX_OPENINGS = 5
MAX_ITEMS = 3
JOB_FRESHNESS = timedelta(days=30)
CONTENT_FRESHNESS = timedelta(days=120)
EVENT_HORIZON = timedelta(days=90)
CONTENT_KEYS = {"article": "articles", "news": "news", "event": "events", "tip": "tips",
                "success_story": "success_stories"}


@dataclass
class Catalog:
    """The openings and content available on the run's reference date, indexed for matching."""

    jobs_by_expertise: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    content_by_language: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    # Openings published after this instant are for the privileged pool only (its head start).
    head_start_from: datetime | None = None
    newest_job: datetime | None = None  # the latest opening published (feeds' freshness)
    newest_content: datetime | None = None

    def openings_for(
        self, expertise: str | None, places: set[str], language: str | None = None,
        shown: frozenset[int] = frozenset(), privileged: bool = True,
    ) -> list[dict[str, Any]]:
        """Up to five recent jobs in the candidate's expertise, where they search (or remote),
        in a language they read (`language`, when given), and not already sent to them.

        Outside the privileged pool, only openings published before `head_start_from`.
        """
        jobs = self.jobs_by_expertise.get((expertise or "").casefold(), [])
        wanted, countries = reachable(places), searched_countries(places)
        return [_public(job) for job in jobs
                if _fits(job, wanted, countries) and _reads(job, language)
                and job.get("id") not in shown
                and (privileged or _published_before(job, self.head_start_from))
                ][:MAX_OPENINGS]

    def is_empty(self) -> bool:
        """No opening and no content item at all on the reference date (no feed is loaded)."""
        return not any(self.jobs_by_expertise.values()) and not any(
            items for by_kind in self.content_by_language.values() for items in by_kind.values())

    def content_for(
        self, language: str, fields: set[str] | None = None, shown: frozenset[int] = frozenset(),
    ) -> dict[str, list[dict[str, Any]]]:
        """Up to three items per kind in `language`, for the candidate's field, not yet sent to them.

        `fields`: the candidate's expertise and segment, casefolded; an item tagged with none of
        them is for another field (untagged items are for everyone). None: any field.
        """
        by_kind = self.content_by_language.get(language, {})
        return {key: [item for item in by_kind.get(key, [])
                      if item.get("id") not in shown and _for_field(item, fields)][:MAX_ITEMS]
                for key in CONTENT_KEYS.values()}


def reachable(places: set[str]) -> set[str]:
    """Casefolded places a search covers: the places by every name, a country's cities, a city's
    country (a job "in Canada" fits someone searching in Toronto), and remote work."""
    return covered_by(places | {REMOTE})


def searched_countries(places: set[str]) -> set[str]:
    """The ISO codes of the countries searched as a whole ("Canada", not "Toronto")."""
    found = (place(value) for value in places)
    return {each.country for each in found if each and each.kind == "country" and each.country}


def _fits(job: dict[str, Any], wanted: set[str], countries: set[str]) -> bool:
    """A fully remote opening fits every search; others where they are (city, else country),
    and anywhere in a country searched as a whole (a city the vocabulary does not know too)."""
    if job.get("remote") == "remote" or job["location"].casefold() in wanted:
        return True
    country = place(job.get("country"))
    return country is not None and country.country in countries


def _published_before(job: dict[str, Any], moment: datetime | None) -> bool:
    published = job.get("published_at")
    return moment is None or published is None or published <= moment


def _reads(job: dict[str, Any], language: str | None) -> bool:
    """The opening is in a language the candidate reads (its feed's languages, else its locale)."""
    if language is None:
        return True
    languages = job.get("languages") or ([job["locale"]] if job.get("locale") else [])
    return not languages or language in {language_of(value) for value in languages}


def _for_field(item: dict[str, Any], fields: set[str] | None) -> bool:
    tags = {tag.casefold() for tag in item.get("tags") or ()}
    return fields is None or not tags or bool(tags & fields)


def _public(job: dict[str, Any]) -> dict[str, Any]:
    shown = {key: job[key] for key in ("title", "company", "location", "url")}
    return {**shown, "id": job.get("id"), "remote": job.get("remote"),
            "country": job.get("country"), "languages": job.get("languages") or []}


def load_catalog(conn: Connection, as_of: date, zone: ZoneInfo,
                 head_start: timedelta = timedelta(0)) -> Catalog:
    """Jobs open on `as_of` and published in the last 30 days; recent content and coming events.

    A closed opening (status closed, or past its closes_at) and an expired item are never read.
    Openings younger than `head_start` go to the privileged pool only.
    """
    moment = datetime.combine(as_of, time(23, 59, 59), zone)
    jobs = conn.execute(
        select(Job.id, Job.title, Job.company, Job.location, Job.city, Job.country, Job.remote,
               Job.languages, Job.locale, Job.expertise, Job.url, Job.published_at)
        .where(Job.status == "open",
               Job.published_at <= moment, Job.published_at > moment - JOB_FRESHNESS,
               or_(Job.closes_at.is_(None), Job.closes_at > moment))
        .order_by(Job.published_at.desc(), Job.id)
    )
    by_expertise: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for job in jobs:
        row = dict(job._mapping)
        row["location"] = row["location"] or ""
        by_expertise[(row["expertise"] or "").casefold()].append(row)

    items = conn.execute(
        select(Content.id, Content.kind, Content.locale, Content.title, Content.summary, Content.url,
               Content.event_at, Content.event_zone, Content.place, Content.tags)
        .where(Content.published_at <= moment,
               Content.published_at > moment - CONTENT_FRESHNESS,
               or_(Content.expires_at.is_(None), Content.expires_at > moment),
               or_(Content.event_at.is_(None),
                   Content.event_at.between(moment - timedelta(days=1), moment + EVENT_HORIZON)))
        .order_by(Content.published_at.desc(), Content.id)
    )
    by_language: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for item in items:  # every item: what a candidate was already sent is left out later
        lists = by_language.setdefault(language_of(item.locale) or "en",
                                       {key: [] for key in CONTENT_KEYS.values()})
        lists[CONTENT_KEYS[item.kind]].append({
            "id": item.id, "title": item.title, "summary": item.summary or "", "url": item.url,
            "event_at": item.event_at, "event_zone": item.event_zone, "place": item.place,
            "tags": item.tags or []})
    newest_job = conn.scalar(select(func.max(Job.published_at)).where(Job.published_at <= moment))
    newest_content = conn.scalar(
        select(func.max(Content.published_at)).where(Content.published_at <= moment))
    return Catalog(dict(by_expertise), by_language, moment - head_start if head_start else None,
                   newest_job, newest_content)
