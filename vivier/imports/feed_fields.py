"""The fields only feeds have: https links, languages, tags, dates ahead, an event's start and zone.

Every text goes through `vivier.imports.fields.clean_text` first (control characters,
formulas, lengths). Decisions worth knowing:
- A link is `https://host/...` in printable ASCII, without credentials: it lands in messages.
- A date may lie ahead (an opening's closing date, an article's expiry, an event), but not past
  `MAX_YEARS_AHEAD` years: `9999-12-31`, an export's "never", is a placeholder, not a date.
  Before 1900, or past the end of the calendar once in UTC, is rejected like any import date.
- An event's start carries its time zone: an ISO datetime with its offset, or a local time with
  an IANA zone in the `timezone` column; a local time that clocks skip (a spring-forward gap)
  is rejected, one they repeat (autumn) is read as the first.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vivier.imports.fields import clean_text, in_calendar, read_moment, refuse_formula
from vivier.imports.report import RowError, shown
from vivier.rules.contact import SUPPORTED_LANGUAGES, is_supported_locale, language_of

MAX_URL = 1000
MAX_YEARS_AHEAD = 5
MAX_TAGS, MAX_TAG_LENGTH = 50, 64
_URL_CHARACTERS = re.compile(r"[!-~]+")  # printable ASCII, no spaces
_LIST_SEPARATORS = re.compile(r"[;,|/\s]+")


def https_url(record: dict[str, str], column: str, required: bool = True) -> str | None:
    """An https link as messages may show it, or RowError saying what is wrong."""
    url = clean_text(record, column, MAX_URL)
    if not url:
        if required:
            raise RowError(f"{column} is empty: give the page's https:// address")
        return None
    if not _URL_CHARACTERS.fullmatch(url):
        raise RowError(f"{column} has spaces or non-ASCII characters: give it percent-encoded")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise RowError(f"{column} is not a valid link") from None
    if parts.scheme != "https" or not host or "." not in host:
        raise RowError(f"{column} must be an https:// address with a host (got {shown(parts.scheme)}"
                       " scheme): messages only link to https pages")
    if parts.username is not None or parts.password is not None:
        raise RowError(f"{column} holds a user name or password (user@host): remove them")
    return url


def languages(record: dict[str, str], column: str) -> list[str]:
    """One or several of fr/en (regional forms count as their language), in the order given."""
    text = clean_text(record, column, 64)
    found = [part for part in _LIST_SEPARATORS.split(text) if part]
    if not found:
        raise RowError(f"{column} is empty: give {' or '.join(SUPPORTED_LANGUAGES)}, "
                       "or several separated by ';'")
    for part in found:
        if not is_supported_locale(part):
            raise RowError(f"{column}: unsupported language {shown(part)}: use "
                           f"{' or '.join(SUPPORTED_LANGUAGES)} (fr-CA, en_GB…)")
    return list(dict.fromkeys(language_of(part) for part in found))


def tags(record: dict[str, str], column: str) -> list[str]:
    """The `;`-separated tags (expertises, segments), each refused if it is a formula."""
    text = clean_text(record, column, None, formula_checked=False)
    found = list(dict.fromkeys(tag.strip() for tag in text.split(";") if tag.strip()))
    for tag in found:
        refuse_formula(tag, column)
    if len(found) > MAX_TAGS or any(len(tag) > MAX_TAG_LENGTH for tag in found):
        raise RowError(f"{column}: at most {MAX_TAGS} tags of {MAX_TAG_LENGTH} characters")
    return found


def one_of_words(record: dict[str, str], column: str, allowed: tuple[str, ...],
                 default: str | None = None, aliases: dict[str, str] | None = None) -> str | None:
    """A lower-cased word among `allowed` (or an alias of one); `default` when empty."""
    word = clean_text(record, column, 32).lower()
    if not word:
        return default
    word = (aliases or {}).get(word, word)
    if word not in allowed:
        raise RowError(f"unknown {column} {shown(word)}: use {', '.join(allowed)}")
    return word


def parse_moment(value: str, column: str, zone: tzinfo, now: datetime) -> datetime:
    """An ISO 8601 date or datetime in UTC (read in `zone` without offset), past or ahead, but
    not more than MAX_YEARS_AHEAD years ahead (a "never" placeholder such as 9999-12-31)."""
    return _not_too_far(read_moment(value, column, zone), value, column, now)


def event_start(record: dict[str, str], column: str, zone_column: str,
                now: datetime) -> tuple[datetime, str]:
    """An event's start in UTC and the zone it is given in (IANA name or offset like +01:00)."""
    value = clean_text(record, column, 40)
    zone_name = clean_text(record, zone_column, 64)
    if not value:
        raise RowError(f"{column} is empty: an event needs its start (2026-12-03T18:30:00+01:00, "
                       f"or a local time with an IANA zone in {zone_column})")
    zone = _zone(zone_name, zone_column) if zone_name else None
    try:
        when = datetime.fromisoformat(value) if len(value) > 10 else None
    except ValueError:
        when = None
    if when is None:
        raise RowError(f"{column} {shown(value)} is not an ISO 8601 date and time "
                       "(YYYY-MM-DDTHH:MM, with its offset or a zone)")
    if when.tzinfo is None:
        if zone is None:
            raise RowError(f"{column} has no offset and {zone_column} is empty: give "
                           f"2026-12-03T18:30:00+01:00, or an IANA zone such as Europe/Paris")
        when = when.replace(tzinfo=zone)
        if _skipped(when):
            raise RowError(f"{column} {value} does not exist in {zone_name}: clocks skip it "
                           "(daylight saving time); give the time after the change")
    elif not zone_name:
        zone_name = _offset_name(when)
    return _not_too_far(in_calendar(when, value, column), value, column, now), zone_name


def _zone(name: str, column: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RowError(f"{column} {shown(name)} is not an IANA time zone "
                       "(Europe/Paris, America/Toronto…)") from None


def _skipped(local: datetime) -> bool:
    """True when the wall-clock time does not exist in its zone (a spring-forward gap)."""
    back = local.astimezone(UTC).astimezone(local.tzinfo)
    return back.replace(tzinfo=None) != local.replace(tzinfo=None)


def _offset_name(when: datetime) -> str:
    offset = when.utcoffset() or timedelta()
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _not_too_far(when: datetime, value: str, column: str, now: datetime) -> datetime:
    if when > now + timedelta(days=366 * MAX_YEARS_AHEAD):
        raise RowError(f"{column} {shown(value)} is more than {MAX_YEARS_AHEAD} years ahead: a "
                       "'never' placeholder? leave the field empty when there is no date")
    return when
