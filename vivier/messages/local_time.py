"""Dates and times in messages: in the reader's own time zone and regional language (Babel).

The date filters read the render context's `zone` (the candidate's IANA zone) and `locale` (theirs,
e.g. `en-GB`: "23 November 2026" where `en` says "November 23, 2026"); without them, the team's
zone and the template's language. An event's time names the reader's zone when its wall clock
differs from the event's own: a Paris fair at 18:30 reads "12:30 PM (Eastern Standard Time)" in
Toronto and "18:30" in Lyon.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_timezone_name
from jinja2 import pass_context
from jinja2.runtime import Context


@lru_cache(maxsize=512)
def _zone(name: str | None) -> tzinfo | None:
    """An IANA zone, or a fixed offset like `+01:00` (an event's own zone may be one); else None."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    try:
        sign = -1 if name[0] == "-" else 1
        hours, minutes = (int(part) for part in name.lstrip("+-").split(":"))
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    except (ValueError, IndexError):
        return None


@lru_cache(maxsize=256)
def _locale(locale: str | None, language: str) -> Locale:
    """The reader's regional locale when it is of the template's language, else the language's."""
    try:
        found = Locale.parse((locale or "").replace("-", "_")) if locale else None
    except (UnknownLocaleError, ValueError):
        found = None
    return found if found is not None and found.language == language else Locale.parse(language)


_MEMO_LIMIT = 4096  # formatted dates per filter: (date, zone, locale) of a run's messages


def date_filters(language: str, zone: ZoneInfo) -> dict[str, Callable[..., str]]:
    """Babel date filters for templates of `language`; `zone` is the team's, for readers without one."""

    def reader(context: Context) -> tuple[tzinfo, Locale]:
        return _zone(context.get("zone")) or zone, _locale(context.get("locale"), language)

    def as_date(value: date | datetime, where: tzinfo) -> date:
        if isinstance(value, datetime):
            return (value.astimezone(where) if value.tzinfo else value).date()
        if not isinstance(value, date):
            raise TypeError(f"a date filter needs a date or datetime, got {type(value).__name__}")
        return value

    def date_filter(pattern: str) -> Callable[..., str]:
        # Memoised: a run formats the same few dates (period start, events) thousands of times,
        # by the value and the reader's zone and locale as the context names them (one lookup).
        memo: dict[tuple[Any, Any, Any], str] = {}

        def formatted(value: date | datetime, where: tzinfo, locale: Locale) -> str:
            return format_date(as_date(value, where), pattern, locale=locale)

        @pass_context
        def date_in_reader_zone(context: Context, value: date | datetime) -> str:
            key = (value, context.get("zone"), context.get("locale"))
            found = memo.get(key)
            if found is None:
                if len(memo) >= _MEMO_LIMIT:
                    memo.clear()
                found = memo[key] = formatted(value, *reader(context))
            return found

        return date_in_reader_zone

    def time_in(value: datetime, where: tzinfo, locale: Locale, own: str | None) -> str:
        if not isinstance(value, datetime):
            raise TypeError(f"time_short needs a datetime, got {type(value).__name__}")
        shown = format_time(value, "short", tzinfo=where if value.tzinfo else None, locale=locale)
        if value.tzinfo is None or own is None:
            return shown
        event_zone = _zone(own)
        if event_zone is not None and value.astimezone(event_zone).utcoffset() == \
                value.astimezone(where).utcoffset():
            return shown  # the event's own clock: no zone to name
        return f"{shown} ({get_timezone_name(value.astimezone(where), 'long', locale=locale)})"

    times: dict[tuple[Any, ...], str] = {}

    @pass_context
    def time_short(context: Context, value: datetime, own_zone: Any = None) -> str:
        """`{{ event.event_at|time_short(event.event_zone) }}`: the reader's time, their zone
        named when it is not the event's own."""
        own = str(own_zone) if own_zone else None
        key = (value, own, context.get("zone"), context.get("locale"))  # as the date filters
        found = times.get(key)
        if found is None:
            if len(times) >= _MEMO_LIMIT:
                times.clear()
            found = times[key] = time_in(value, *reader(context), own)
        return found

    return {
        "date_long": date_filter("long"),
        "date_short": date_filter("short"),
        "month_year": date_filter("LLLL y"),
        "time_short": time_short,
    }
