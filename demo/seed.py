"""Demo data: a realistic, deterministic talent pool with consents, openings and content.

Same `candidates`, `seed` and `as_of` give the same rows; running again adds nothing
(demo rows carry external ids `DEMO-000001`, `DEMO-JOB-0001`; existing ones are skipped).
Openings and content go in the way a team's own do: the seeder writes the feeds
(`jobs.csv`, `content.jsonl` in a `feeds/` folder next to the SQLite database, `var/feeds/`
otherwise) and loads them with `vivier import jobs|content`'s functions: no side door.
Candidates are built from a small pool of Faker names combined with one `random.Random`
and written in bulk chunks, so memory stays flat from 1k to 1M candidates.
"""

from __future__ import annotations

import csv
import json
import random
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from faker import Faker
from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    String,
    Table,
    any_,
    bindparam,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vivier.imports.content import CONTENT_COLUMNS, CONTENT_OPTIONAL, import_content
from vivier.imports.jobs import JOB_COLUMNS, JOB_OPTIONAL, import_jobs
from vivier.rules.identity import email_hash
from vivier.rules.vocabulary import (
    CANADA_LOCATIONS,
    DEMO_CONTENT,
    EXPERTISES,
    FRENCH_CITIES,
    HR_EXPERTISE,
    JOB_TITLES,
    REGIONS,
    REMOTE,
    SEARCH_LOCATIONS,
    TAGS,
)
from vivier.store.schema import Candidate, Consent, Preference, Suppression, utcnow

CHUNK_SIZE = 5_000
NAMES_PER_LOCALE = 1_000
EMAIL_DOMAINS = ("example.org", "example.com", "example.net")  # reserved (RFC 2606)
CITIES = {
    "fr_FR": FRENCH_CITIES,
    "en_GB": ("London", "Manchester", "Bristol", "Edinburgh", "Leeds"),
    "en_CA": ("Toronto", "Montréal", "Vancouver", "Ottawa", "Calgary", "Québec"),
}
LOCALES = {  # Faker locale -> the `locale` values seen in ATS exports, most common first
    "fr_FR": ("fr", "fr", "fr", "fr-FR"),
    "en_GB": ("en", "en", "en-GB", "en_GB"),
    "en_CA": ("en", "en-CA", "en-CA"),
}
FAKER_LOCALE_SHARES = (("fr_FR", 0.65), ("en_GB", 0.20), ("en_CA", 0.15))
STATUS_SHARES = (("active", 0.40), ("passive", 0.35), ("former", 0.25))
MESSY_KINDS = (
    "invalid_email", "empty_first_name", "unsupported_locale", "duplicate_email",
    "line_break_in_name", "html_in_name", "very_long_fields",
)
Row = dict[str, Any]
CANDIDATES = cast(Table, Candidate.__table__)
CONSENTS = cast(Table, Consent.__table__)
PREFERENCES = cast(Table, Preference.__table__)
SUPPRESSIONS = cast(Table, Suppression.__table__)
REMOTE_POLICIES = ("onsite", "hybrid", "hybrid", "onsite")  # by opening number: no extra draw
EVENT_ZONES = {"fr": "Europe/Paris", "en": "America/Toronto"}
# The owner recruiters of the demo pool, by Faker locale (the ATS's `owner` and `owner_name`).
OWNERS = {
    "fr_FR": (("Élodie Bernard", "elodie.bernard@vivier.example"),
              ("Julien Lefèvre", "julien.lefevre@vivier.example")),
    "en_GB": (("Hannah Clarke", "hannah.clarke@vivier.example"),),
    "en_CA": (("Sarah Tremblay", "sarah.tremblay@vivier.example"),
              ("Marc Gagnon", "marc.gagnon@vivier.example")),
}


@dataclass
class SeedSummary:
    """What one seeding run added (and skipped because it was already there)."""

    candidates: int = 0
    skipped_candidates: int = 0
    messy_candidates: int = 0
    consents: int = 0
    preferences: int = 0
    suppressions: int = 0
    jobs: int = 0
    content: int = 0
    feeds: Path | None = None  # where the demo feeds were written (None: a temporary folder)
    as_of: date | None = None


@dataclass
class NamePool:
    """A few thousand Faker names per locale, drawn once and recombined per candidate."""

    first: dict[str, list[str]] = field(default_factory=dict)
    last: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    @lru_cache(maxsize=4)
    def build(cls, seed: int) -> NamePool:
        pool = cls()
        for locale in CITIES:
            fake = Faker(locale)
            fake.seed_instance(seed)
            pool.first[locale] = sorted({fake.first_name() for _ in range(NAMES_PER_LOCALE)})
            pool.last[locale] = sorted({fake.last_name() for _ in range(NAMES_PER_LOCALE)})
        return pool


def anchor_of(as_of: date, zone: ZoneInfo) -> datetime:
    """The instant every demo date is relative to: 09:00 on `as_of` in the team's zone."""
    return datetime.combine(as_of, time(9, 0), tzinfo=zone).astimezone(UTC)


def _ago(rng: random.Random, anchor: datetime, low_days: float, high_days: float) -> datetime:
    days = low_days + rng.random() * (high_days - low_days)
    return anchor - timedelta(seconds=int(days * 86400))


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    """A weighted choice (shares sum to 1), faster than `random.choices` for one draw."""
    draw = rng.random()
    for value, share in weighted:
        draw -= share
        if draw < 0:
            return value
    return weighted[-1][0]


def _one(rng: random.Random, values: tuple[str, ...] | list[str]) -> str:
    """A uniform choice, cheaper than `rng.choice` on the million-row path."""
    return values[int(rng.random() * len(values))]


@lru_cache(maxsize=32_768)
def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


@dataclass
class CandidatePlan:
    """One demo candidate's row and the consent/preference/suppression rows that follow it."""

    row: Row
    consents: list[Row]
    preference: Row | None
    suppression: Row | None
    messy: bool


def _profile(rng: random.Random) -> tuple[str, str, str | None]:
    """Faker locale, expertise and search location (None: same as the city)."""
    if rng.random() < 0.10:  # French and Canadian HR people looking for work in Canada
        return _one(rng, ("fr_FR", "fr_FR", "en_CA")), HR_EXPERTISE, _one(rng, CANADA_LOCATIONS)
    faker_locale = _pick(rng, FAKER_LOCALE_SHARES)
    where = rng.random()
    search = None if where < 0.7 else REMOTE if where < 0.85 else _one(rng, SEARCH_LOCATIONS)
    return faker_locale, _one(rng, EXPERTISES), search


def _consent_events(rng: random.Random, since: datetime, anchor: datetime) -> list[Row]:
    """~15% never asked, ~5% denied, ~10% withdrawn, ~70% granted (some re-granted)."""
    draw = rng.random()
    if draw < 0.15:
        return []
    asked = since + timedelta(seconds=int(rng.random() * 3 * 86400))
    form = {"form": "application", "wording": "nurturing-v1"}
    if draw < 0.20:
        return [_event("denied", "ats_import", {**form, "checkbox": "unticked"}, asked)]
    events = [_event("granted", "ats_import", {**form, "checkbox": "ticked"}, asked)]
    if draw < 0.35:
        span = max(int((anchor - asked).total_seconds()), 2)
        withdrawn = asked + timedelta(seconds=rng.randrange(1, span))
        link = {"page": "preferences", "channel": "email_link"}
        events.append(_event("withdrawn", "preference_centre", link, withdrawn))
        if draw >= 0.30:
            again = withdrawn + timedelta(seconds=rng.randrange(1, span))
            events.append(_event("granted", "preference_centre", link, min(again, anchor)))
    return events


def _event(state: str, source: str, evidence: dict[str, str], at: datetime) -> Row:
    return {"purpose": "nurturing", "state": state, "source": source,
            "evidence": evidence, "recorded_at": at}


def _make_messy(rng: random.Random, row: Row, previous_email: str | None) -> None:
    """Damage one row the way real ATS exports are damaged."""
    kind = _one(rng, MESSY_KINDS)
    if kind == "invalid_email":
        row["email"] = _one(rng, ("jean.dupont@", "no-at-sign.example.org", "a b@example.org", ""))
    elif kind == "empty_first_name":
        row["first_name"] = _one(rng, ("", "   "))
    elif kind == "unsupported_locale":
        row["locale"] = _one(rng, ("de", "es", "pt-BR"))
    elif kind == "duplicate_email" and previous_email:
        row["email"] = previous_email
    elif kind == "line_break_in_name":
        row["first_name"] = f"{row['first_name']}\r\n{row['last_name']}"
    elif kind == "html_in_name":
        row["last_name"] = f"{row['last_name']}<script>alert(1)</script>"
    else:  # very long, yet within the column sizes of vivier.store.schema
        row["first_name"] = (row["first_name"] * 200)[:200]
        row["city"] = ("Saint-" + row["city"] * 100)[:200]
        row["email"] = "x" * 60 + "." + row["email"]


def plan_candidate(
    number: int, rng: random.Random, pool: NamePool, anchor: datetime, previous_email: str | None
) -> CandidatePlan:
    """Draw one demo candidate; the draws happen in the same order every run."""
    faker_locale, expertise, search = _profile(rng)
    first, last = _one(rng, pool.first[faker_locale]), _one(rng, pool.last[faker_locale])
    city = _one(rng, CITIES[faker_locale])
    locale = _one(rng, LOCALES[faker_locale])
    if expertise == HR_EXPERTISE and search in CANADA_LOCATIONS and faker_locale == "fr_FR":
        locale = _one(rng, ("fr", "fr-CA"))
    status = _pick(rng, STATUS_SHARES)
    applied = {"active": (1, 90), "former": (180, 1000)}.get(status)
    last_applied = _ago(rng, anchor, *applied) if applied else None
    contact = rng.random()
    contacted = (_ago(rng, anchor, 0.1, 5.9) if contact < 0.04
                 else _ago(rng, anchor, 7, 200) if contact < 0.35 else None)
    created = (last_applied or _ago(rng, anchor, 30, 700)) - timedelta(days=int(rng.random() * 30))
    email = f"{_ascii(first)}.{_ascii(last)}{number}@{_one(rng, EMAIL_DOMAINS)}"
    # From the number, not a draw: every other demo value stays as it was. One in ten has none.
    owner = None if number % 10 == 0 else OWNERS[faker_locale][number % len(OWNERS[faker_locale])]
    row: Row = {
        "external_id": f"DEMO-{number:06d}", "email": email, "first_name": first,
        "last_name": last, "locale": locale, "city": city,
        "search_location": search or city, "expertise": expertise,
        "tags": sorted({_one(rng, TAGS) for _ in range(int(rng.random() * 4))}), "status": status,
        "last_applied_at": last_applied, "last_contacted_at": contacted,
        "created_at": created, "updated_at": created, "erased_at": None,
        "owner_name": owner[0] if owner else None, "owner_email": owner[1] if owner else None,
    }
    messy = rng.random() < 0.02
    if messy:
        _make_messy(rng, row, previous_email)
    consents = _consent_events(rng, created, anchor)
    frequency = rng.random()
    preference = None
    if frequency < 0.15:
        chosen = "none" if frequency < 0.04 else _one(rng, ("weekly", "monthly", "quarterly"))
        preference = {"frequency": chosen, "privileged": chosen != "none" and rng.random() < 0.3,
                      "updated_at": _ago(rng, anchor, 1, 120),
                      "source": _one(rng, ("preference_centre", "survey"))}
    suppression = None
    if rng.random() < 0.004:
        suppression = {"email_hash": email_hash(row["email"]), "source": "demo",
                       "reason": _one(rng, ("unsubscribe", "hard_bounce")),
                       "created_at": _ago(rng, anchor, 1, 200)}
    return CandidatePlan(row, consents, preference, suppression, messy)


def plan_candidates(count: int, seed: int, anchor: datetime) -> Iterator[list[CandidatePlan]]:
    """All demo candidates, in chunks of CHUNK_SIZE, from one random stream."""
    rng = random.Random(seed)
    pool = NamePool.build(seed)
    previous_email: str | None = None
    chunk: list[CandidatePlan] = []
    for number in range(1, count + 1):
        plan = plan_candidate(number, rng, pool, anchor, previous_email)
        previous_email = plan.row["email"]
        chunk.append(plan)
        if len(chunk) == CHUNK_SIZE:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def insert_ignoring_conflicts(connection: Connection, table: Table, rows: list[Row]) -> None:
    """Bulk insert; a row whose key is already there is left as it is."""
    if not rows:
        return
    dialect_insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    connection.execute(dialect_insert(table).on_conflict_do_nothing(), rows)


def bulk_insert(connection: Connection, table: Table, rows: list[Row]) -> None:
    """Insert many rows with the same keys: COPY on PostgreSQL, driver executemany on SQLite.

    Both skip SQLAlchemy's per-statement compilation, which costs more than the database
    here; values still go through each column type's own bind processor on SQLite.
    """
    if not rows:
        return
    columns = list(rows[0])
    dialect = connection.dialect
    if dialect.name == "postgresql":
        as_json = [isinstance(table.c[name].type, JSON) for name in columns]
        driver = connection.connection.driver_connection
        assert driver is not None, "a checked-out connection has its psycopg connection"
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([json.dumps(row[name]) if encode else row[name]
                                for name, encode in zip(columns, as_json, strict=True)])
        return
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                  for name in columns]
    statement = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
                 f"VALUES ({', '.join('?' for _ in columns)})")
    connection.exec_driver_sql(statement, [
        tuple(process(row[name]) if process else row[name]
              for name, process in zip(columns, processors, strict=True))
        for row in rows
    ])


def ids_by_external_id(connection: Connection, external_ids: list[str]) -> dict[str, int]:
    """Candidate ids of these ATS ids (one array parameter on PostgreSQL, not thousands)."""
    column = CANDIDATES.c.external_id
    if connection.dialect.name == "postgresql":
        wanted = bindparam("wanted", external_ids, type_=ARRAY(String))
        matches = column == any_(wanted)
    else:
        matches = column.in_(external_ids)
    return dict(connection.execute(select(column, CANDIDATES.c.id).where(matches)).all())


def _write_chunk(connection: Connection, chunk: list[CandidatePlan], summary: SeedSummary) -> None:
    present = ids_by_external_id(connection, [plan.row["external_id"] for plan in chunk])
    fresh = [plan for plan in chunk if plan.row["external_id"] not in present]
    summary.skipped_candidates += len(chunk) - len(fresh)
    if not fresh:
        return
    bulk_insert(connection, CANDIDATES, [plan.row for plan in fresh])
    ids = ids_by_external_id(connection, [plan.row["external_id"] for plan in fresh])
    consents, preferences, suppressions = [], [], []
    for plan in fresh:
        candidate_id = ids[plan.row["external_id"]]
        consents += [{**event, "candidate_id": candidate_id} for event in plan.consents]
        if plan.preference:
            preferences.append({**plan.preference, "candidate_id": candidate_id})
        if plan.suppression:
            suppressions.append(plan.suppression)
    bulk_insert(connection, CONSENTS, consents)
    bulk_insert(connection, PREFERENCES, preferences)
    insert_ignoring_conflicts(connection, SUPPRESSIONS, suppressions)
    summary.candidates += len(fresh)
    summary.messy_candidates += sum(plan.messy for plan in fresh)
    summary.consents += len(consents)
    summary.preferences += len(preferences)
    summary.suppressions += len(suppressions)


def _slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(ch if ch.isalnum() else " " for ch in folded).split())


def plan_jobs(seed: int, anchor: datetime, count: int = 60) -> list[Row]:
    """Openings published over the last 40 days, a few already closed."""
    rng = random.Random(f"{seed}-jobs")
    companies = ("Vivier Conseil", "Atelier Nord", "Maple & Co", "Lumen Care", "Quai 9 Logistique")
    jobs = []
    for number in range(1, count + 1):
        expertise, location = rng.choice(EXPERTISES), rng.choice(SEARCH_LOCATIONS)
        if number % 6 == 0:  # keep openings for the Canadian HR profiles
            expertise, location = HR_EXPERTISE, rng.choice(CANADA_LOCATIONS)
        english = location in ("Toronto", "London", "Manchester") or rng.random() < 0.2
        locale = "en" if english else "fr"
        title = rng.choice(JOB_TITLES[expertise][locale])
        external_id = f"DEMO-JOB-{number:04d}"
        published = _ago(rng, anchor, 0, 40)
        open_for = int((anchor - published).total_seconds())
        closes = (published + timedelta(seconds=rng.randrange(0, max(open_for, 1)))
                  if rng.random() < 0.15 else anchor + timedelta(days=rng.randrange(10, 60)))
        jobs.append({
            "external_id": external_id, "title": title, "company": rng.choice(companies),
            "location": location, "expertise": expertise, "locale": locale,
            "url": f"https://jobs.vivier.example/{locale}/{external_id.lower()}-{_slug(title)}",
            "published_at": published, "closes_at": closes,
        })
    return jobs


def plan_content(seed: int, anchor: datetime) -> list[Row]:
    """Articles, news, tips and success stories of the last ~4 months; events to come."""
    rng = random.Random(f"{seed}-content")
    items = []
    for number, (kind, locale, title, summary) in enumerate(DEMO_CONTENT, start=1):
        published = _ago(rng, anchor, 0, 120)
        event_at = expires_at = None
        if kind == "event":
            published = _ago(rng, anchor, 0, 14)
            event_at = anchor + timedelta(days=rng.randrange(5, 42), hours=rng.randrange(0, 8))
            expires_at = event_at
        items.append({
            "kind": kind, "locale": locale, "title": title, "summary": summary,
            "url": f"https://blog.vivier.example/{locale}/{number:03d}-{_slug(title)}",
            "event_at": event_at, "published_at": published, "expires_at": expires_at,
        })
    return items


def jobs_feed(jobs: list[Row], anchor: datetime) -> list[dict[str, str]]:
    """The openings as the team's jobs feed has them: city or country, remote policy, languages;
    those whose closing date has passed by `anchor` are marked closed."""
    country_of = {city: country for country, cities in REGIONS.items() for city in cities}
    rows = []
    for number, job in enumerate(jobs, start=1):
        location = job["location"]
        remote = "remote" if location == REMOTE else REMOTE_POLICIES[number % len(REMOTE_POLICIES)]
        is_country = location in REGIONS
        city = "" if location == REMOTE or is_country else location
        languages = "fr;en" if location in ("Montréal", "Québec") else job["locale"]
        closed = job["closes_at"] is not None and job["closes_at"] <= anchor
        rows.append({
            "external_id": job["external_id"], "title": job["title"], "company": job["company"],
            "city": city, "country": location if is_country else country_of.get(city, ""),
            "remote": remote, "languages": languages, "expertise": job["expertise"],
            "url": job["url"], "status": "closed" if closed else "open",
            "published_at": job["published_at"].isoformat(),
            "closes_at": job["closes_at"].isoformat() if job["closes_at"] else "",
        })
    return rows


# Whom each piece is for, as an editor tags it (segments); untagged pieces go to everyone.
CONTENT_TAGS = {
    "Le marché de l'emploi RH en 2026": "hr-france;hr-canada",
    "Travailler au Québec : ce qui change pour les profils RH": "hr-canada",
    "What hiring managers look for in a data engineer": "tech",
    "Moving to Canada as an HR professional": "hr-canada",
    "Afterwork recrutement tech à Paris": "tech",
    "Virtual job fair: HR careers in Canada": "hr-canada",
    "Data careers meetup in London": "tech",
    "De la paie à la DRH en quatre ans": "hr-france;hr-canada",
    "Reconversion réussie vers la data": "tech",
    "From Lyon to Montréal: an HR move": "hr-canada",
}


def content_feed(items: list[Row]) -> list[dict[str, str]]:
    """The content as the team's content feed has it: feed ids, kinds, events with their zone."""
    rows = []
    for number, item in enumerate(items, start=1):
        row = {"external_id": f"DEMO-CONTENT-{number:03d}",
               "kind": "story" if item["kind"] == "success_story" else item["kind"],
               "language": item["locale"], "title": item["title"], "summary": item["summary"],
               "url": item["url"], "published_at": item["published_at"].isoformat(),
               "tags": CONTENT_TAGS.get(item["title"], ""), "expires_at": "", "starts_at": "",
               "timezone": "", "place": ""}
        if item["event_at"] is not None:
            local = item["event_at"].astimezone(ZoneInfo(EVENT_ZONES[item["locale"]]))
            online = any(word in item["title"] for word in ("Webinaire", "Virtual", "visio"))
            row |= {"expires_at": item["expires_at"].isoformat(),
                    "place": "en ligne" if online and item["locale"] == "fr" else
                    "online" if online else local.tzinfo.key.split("/")[-1]}  # type: ignore[union-attr]
            if item["locale"] == "fr":  # a local time and its zone ...
                row |= {"starts_at": local.replace(tzinfo=None).isoformat(),
                        "timezone": EVENT_ZONES["fr"]}
            else:  # ... or a time with its offset: the two ways a feed may say it
                row["starts_at"] = local.isoformat()
        rows.append(row)
    return rows


def write_feeds(folder: Path, jobs: list[dict[str, str]], content: list[dict[str, str]]) -> None:
    """`jobs.csv` and `content.jsonl` in `folder` (created, owner-only)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (folder / "jobs.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*JOB_COLUMNS, *JOB_OPTIONAL],
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(jobs)
    with (folder / "content.jsonl").open("w", encoding="utf-8") as handle:
        columns = (*CONTENT_COLUMNS, *CONTENT_OPTIONAL)
        for row in content:
            handle.write(json.dumps({name: row[name] for name in columns}, ensure_ascii=False) + "\n")


def feeds_folder(engine: Engine) -> Path:
    """`feeds/` next to a SQLite database file (var/feeds for var/vivier.db), else var/feeds."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if database and database != ":memory:":
        return Path(database).resolve().parent / "feeds"
    return Path("var/feeds")


def load_feeds(engine: Engine, folder: Path, anchor: datetime, zone: ZoneInfo,
               summary: SeedSummary) -> None:
    """Import the demo feeds as a team's feeds are imported; a rejected row is a seeder bug."""
    now = max(utcnow(), anchor)  # the demo's dates are relative to `as_of`, maybe ahead of today
    for importer, name in ((import_jobs, "jobs.csv"), (import_content, "content.jsonl")):
        report = importer(engine, folder / name, zone=zone, now=now)
        if report.rejected:
            first = report.rejected[0]
            raise RuntimeError(f"demo feed {name} line {first.line}: {first.reason}")
        if name == "jobs.csv":
            summary.jobs = report.imported
        else:
            summary.content = report.imported


def seed_demo(
    engine: Engine,
    candidates: int,
    seed: int,
    as_of: date,
    zone: ZoneInfo = ZoneInfo("Europe/Paris"),
    on_progress: Callable[[int], None] | None = None,
    feeds_dir: Path | None = None,
) -> SeedSummary:
    """Fill the pool with `candidates` demo candidates plus openings and content (idempotent).

    Openings and content are written as feeds to `feeds_dir` (default: `feeds_folder`) and
    imported from there.
    """
    if candidates < 0:
        raise ValueError(f"candidates must be 0 or more (got {candidates})")
    anchor = anchor_of(as_of, zone)
    summary = SeedSummary(as_of=as_of)
    feeds = (jobs_feed(plan_jobs(seed, anchor), anchor), content_feed(plan_content(seed, anchor)))
    folder = feeds_dir or feeds_folder(engine)
    try:
        write_feeds(folder, *feeds)
    except OSError:  # a read-only checkout: the same files, in a folder of their own
        with tempfile.TemporaryDirectory(prefix="vivier-demo-feeds-") as temporary:
            write_feeds(Path(temporary), *feeds)
            load_feeds(engine, Path(temporary), anchor, zone, summary)
    else:
        load_feeds(engine, folder, anchor, zone, summary)
        summary.feeds = folder
    done = 0
    for chunk in plan_candidates(candidates, seed, anchor):
        with engine.begin() as connection:  # one transaction per chunk: flat memory, steady WAL
            _write_chunk(connection, chunk, summary)
        done += len(chunk)
        if on_progress:
            on_progress(done)
    return summary
