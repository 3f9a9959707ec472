"""The fields of an import row: text refused when unsafe, dates read as ISO 8601.

- A value starting with `=`, `+` or `@`, or with `-` followed by a non-digit, is rejected:
  spreadsheets run it as a formula when the data is exported again (CSV injection).
  `-5` or a lone `-` pass. SQL-looking text is just text: it is stored as given.
- CR, LF, tabs and other control characters inside a field are rejected
  (`vivier.rules.contact`, the rule the run's data checks apply to names).
- Dates are ISO 8601 (`2026-03-14` or `2026-03-14T09:30:00+01:00`); a date or a naive
  datetime is read in the team's time zone; a date in the future is rejected.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, tzinfo
from zoneinfo import ZoneInfo

from vivier.imports.report import RowError
from vivier.rules.contact import has_control_character
from vivier.settings import Settings

DEFAULT_ZONE = ZoneInfo(Settings.model_fields["team_timezone"].default)
FORMULA = re.compile(r"^(?:[=+@]|-(?=\D))")


def shown(value: str) -> str:
    """A value quoted for a rejection reason, cut at 40 characters."""
    return repr(value if len(value) <= 40 else value[:40] + "…")


def clean_text(record: dict[str, str], column: str, limit: int | None) -> str:
    """A field without surrounding spaces, refused if it carries control chars or a formula."""
    raw = record.get(column) or ""
    if has_control_character(raw):
        raise RowError(f"{column} contains a line break or control character: remove it")
    value = raw.strip()
    if FORMULA.match(value):
        raise RowError(f"{column} starts with {value[0]!r} like a spreadsheet formula "
                       "(formula injection): remove the leading character")
    if limit is not None and len(value) > limit:
        raise RowError(f"{column} is {len(value)} characters long; the limit is {limit}")
    return value


def parse_when(value: str, column: str, zone: tzinfo, now: datetime) -> datetime:
    """An ISO 8601 date or datetime, read in `zone` when it carries no offset; never future."""
    try:
        if len(value) == 10:
            when = datetime.combine(date.fromisoformat(value), time(), tzinfo=zone)
        else:
            when = datetime.fromisoformat(value)
            when = when if when.tzinfo else when.replace(tzinfo=zone)
    except ValueError:
        raise RowError(f"{column} {shown(value)} is not an ISO 8601 date "
                       "(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS+01:00)") from None
    if when > now:
        raise RowError(f"{column} {value} is in the future")
    return when
