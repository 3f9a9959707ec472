"""Articles, news, events, tips and success stories from the team's content feed, by feed id.

Columns: external_id, kind, language, title, url, published_at (required) and summary, tags,
expires_at, starts_at, timezone, place (optional). Decisions worth knowing:
- `kind` is article, news, event, tip or story (`success_story` too); `language` fr or en
  (regional forms count as their language); `tags` are `;`-separated expertises or segments;
  `url` is an https link.
- An event needs `starts_at` with its time zone: an ISO datetime with offset
  (`2026-12-03T18:30:00-05:00`), or a local time and an IANA zone in `timezone`
  (`2026-12-03T18:30`, `America/Toronto`); the zone is kept to show the event's own time.
  Other kinds take no start. An item past `expires_at` is never shown (`vivier.messages.catalog`).
- Content stored before feeds had ids (the first demo) is taken over by its URL, not copied.
- Text is cleaned as `vivier.imports.fields` says; row handling as `vivier.imports.feed_upsert`.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from vivier.imports.feed_fields import event_start, https_url, one_of_words, parse_moment, tags
from vivier.imports.feed_upsert import feed_id_of, load_feed
from vivier.imports.fields import DEFAULT_ZONE, clean_text, parse_when
from vivier.imports.report import ImportReport, RowError, shown
from vivier.imports.rows import read_rows
from vivier.rules.contact import SUPPORTED_LANGUAGES, is_supported_locale, language_of
from vivier.store.schema import CONTENT_KINDS, Content, utcnow

CONTENT_COLUMNS = ("external_id", "kind", "language", "title", "url", "published_at")
CONTENT_OPTIONAL = ("summary", "tags", "expires_at", "starts_at", "timezone", "place")
KIND_ALIASES = {"story": "success_story", "success-story": "success_story"}
FEED_KINDS = ("article", "news", "event", "tip", "story")  # what the feed says; stored as CONTENT_KINDS
MAX_SUMMARY = 2000


def content_row(record: dict[str, str], zone: tzinfo, now: datetime) -> dict[str, Any]:
    """The `content` values of one feed row, or RowError saying what is wrong."""
    row: dict[str, Any] = {"external_id": feed_id_of(record)}
    kind = one_of_words(record, "kind", CONTENT_KINDS, aliases=KIND_ALIASES)
    if kind is None:
        raise RowError(f"kind is empty: use {', '.join(FEED_KINDS)}")
    row["kind"] = kind
    language = clean_text(record, "language", 16)
    if not is_supported_locale(language):
        raise RowError(f"unsupported language {shown(language)}: use "
                       f"{' or '.join(SUPPORTED_LANGUAGES)} (fr-CA, en_GB…)")
    row["locale"] = language_of(language)
    row["title"] = clean_text(record, "title", 300)
    if not row["title"]:
        raise RowError("title is empty")
    row["summary"] = clean_text(record, "summary", MAX_SUMMARY) or None
    row["url"] = https_url(record, "url")
    row["tags"] = tags(record, "tags")
    row["place"] = clean_text(record, "place", 300) or None
    published = clean_text(record, "published_at", 40)
    if not published:
        raise RowError("published_at is empty")
    row["published_at"] = parse_when(published, "published_at", zone, now)
    expires = clean_text(record, "expires_at", 40)
    row["expires_at"] = parse_moment(expires, "expires_at", zone, now) if expires else None
    if kind == "event":
        row["event_at"], row["event_zone"] = event_start(record, "starts_at", "timezone", now)
    elif clean_text(record, "starts_at", 40):
        raise RowError(f"starts_at is only for events (this row is a {kind}): leave it empty")
    else:
        row["event_at"] = row["event_zone"] = None
    return row


def import_content(
    engine: Engine, path: Path | str, zone: tzinfo = DEFAULT_ZONE, now: datetime | None = None,
) -> ImportReport:
    """Upsert the items of a content feed file by their feed id; report rejected lines."""
    path, now = Path(path), now or utcnow()
    report = ImportReport(file=path.name)
    load_feed(engine, read_rows(path, CONTENT_COLUMNS, CONTENT_OPTIONAL, report), report, Content,
              lambda record: content_row(record, zone, now), adopt_by="url")
    return report
