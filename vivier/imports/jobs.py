"""Openings from the team's jobs feed (CSV or JSON Lines), upserted by the ATS job id.

Columns: external_id (the ATS job id), title, url, languages, published_at (required) and
company, city, country, remote, expertise, status, closes_at, closed_at (optional).
Decisions worth knowing:
- `url` is an https link; `languages` is fr, en or both (`fr;en`): the first is the opening's
  locale; `remote` is onsite, hybrid or remote; `status` open (default) or closed.
- An opening is shown where it is: its city, else its country; a fully remote one fits
  everyone and shows as "Remote" when it has no place. A row with no city, no country and
  not remote could never be shown: it is rejected.
- `closes_at` may lie ahead (the opening closes then); `closed_at` says when it was closed
  (not in the future) and closes it. A closed opening, or one past its `closes_at`, is never
  shown (`vivier.messages.catalog`). `published_at` is not in the future.
- Text is cleaned as `vivier.imports.fields` says; row handling as `vivier.imports.feed_upsert`.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from vivier.imports.feed_fields import https_url, languages, one_of_words, parse_moment
from vivier.imports.feed_upsert import feed_id_of, load_feed
from vivier.imports.fields import DEFAULT_ZONE, clean_text, parse_when
from vivier.imports.report import ImportReport, RowError
from vivier.imports.rows import read_rows
from vivier.rules.vocabulary import REMOTE
from vivier.store.schema import JOB_STATUSES, REMOTE_POLICIES, Job, utcnow

JOB_COLUMNS = ("external_id", "title", "url", "languages", "published_at")
JOB_OPTIONAL = ("company", "city", "country", "remote", "expertise", "status", "closes_at",
                "closed_at")
REMOTE_ALIASES = {"on-site": "onsite", "on site": "onsite", "office": "onsite",
                  "full remote": "remote", "full-remote": "remote"}
LIMITS = {"title": 300, "company": 200, "city": 200, "country": 100, "expertise": 200}


def job_row(record: dict[str, str], zone: tzinfo, now: datetime) -> dict[str, Any]:
    """The `jobs` values of one feed row, or RowError saying what is wrong."""
    row: dict[str, Any] = {"external_id": feed_id_of(record)}
    for column, limit in LIMITS.items():
        row[column] = clean_text(record, column, limit) or None
    if not row["title"]:
        raise RowError("title is empty")
    row["url"] = https_url(record, "url")
    row["languages"] = languages(record, "languages")
    row["locale"] = row["languages"][0]
    row["remote"] = one_of_words(record, "remote", REMOTE_POLICIES, aliases=REMOTE_ALIASES)
    row["location"] = row["city"] or row["country"] or (REMOTE if row["remote"] == "remote" else None)
    if row["location"] is None:
        raise RowError("no place: give city or country (or remote = remote for a fully remote "
                       "opening); it could never be matched to a candidate")
    published = clean_text(record, "published_at", 40)
    if not published:
        raise RowError("published_at is empty")
    row["published_at"] = parse_when(published, "published_at", zone, now)
    row["status"] = one_of_words(record, "status", JOB_STATUSES, default="open")
    closes, closed = clean_text(record, "closes_at", 40), clean_text(record, "closed_at", 40)
    if closes and closed:
        raise RowError("closes_at and closed_at are both given: keep one (closed_at closes it "
                       "now, closes_at says when it will close)")
    row["closes_at"] = (parse_moment(closes, "closes_at", zone, now) if closes
                        else parse_when(closed, "closed_at", zone, now) if closed else None)
    if closed:
        row["status"] = "closed"
    return row


def import_jobs(
    engine: Engine, path: Path | str, zone: tzinfo = DEFAULT_ZONE, now: datetime | None = None,
) -> ImportReport:
    """Upsert the openings of a jobs feed file by ATS job id; report rejected lines."""
    path, now = Path(path), now or utcnow()
    report = ImportReport(file=path.name)
    load_feed(engine, read_rows(path, JOB_COLUMNS, JOB_OPTIONAL, report), report, Job,
              lambda record: job_row(record, zone, now))
    return report
