"""The fields of an import row: text refused when unsafe, dates read as ISO 8601.

- Spreadsheet formulas (CSV injection, OWASP's cases) are refused in every text field, each
  tag included: a value starting with `=`, `+` or `@` (or their fullwidth forms `＝ ＋ ＠ －`,
  which spreadsheets in East Asian locales may read the same way), or with `-` unless the
  whole value is a number (`-5`, `-2.5`) or a lone `-`. A leading tab or CR is a control
  character, refused below. SQL-looking text is just text: it is stored as given.
- CR, LF, tabs, other control characters and bidirectional overrides inside a field are
  rejected (`vivier.rules.contact`, the rule the run's data checks apply to names).
- Dates are ISO 8601 (`2026-03-14` or `2026-03-14T09:30:00+01:00`); a date or a naive
  datetime is read in the team's time zone; a date in the future, or before 1900 (an ATS's
  "no date" placeholder such as `0001-01-01`), is rejected.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo

from vivier.imports.report import RowError, shown
from vivier.rules.contact import has_control_character
from vivier.settings import Settings

DEFAULT_ZONE = ZoneInfo(Settings.model_fields["team_timezone"].default)
FORMULA = re.compile(r"^(?:[=+@\uff1d\uff0b\uff20\uff0d]|-(?!(?:\d+(?:[.,]\d+)?)?\Z))")
EARLIEST_YEAR = 1900  # before it, a date is a placeholder, not a moment in a recruiting history


def refuse_formula(value: str, column: str) -> None:
    """RowError when `value` would run as a spreadsheet formula once exported again."""
    if FORMULA.match(value):
        raise RowError(f"{column} starts with {value[0]!r} like a spreadsheet formula "
                       "(formula injection): remove the leading character")


def clean_text(record: dict[str, str], column: str, limit: int | None,
               formula_checked: bool = True) -> str:
    """A field without surrounding spaces, refused if it carries control chars or a formula."""
    raw = record.get(column) or ""
    if has_control_character(raw):
        raise RowError(f"{column} contains a line break, control or bidirectional character: "
                       "remove it")
    value = raw.strip()
    if formula_checked:
        refuse_formula(value, column)
    if limit is not None and len(value) > limit:
        raise RowError(f"{column} is {len(value)} characters long; the limit is {limit}")
    return value


def read_moment(value: str, column: str, zone: tzinfo) -> datetime:
    """An ISO 8601 date or datetime, read in `zone` without an offset, as UTC; refused before
    1900 (a "no date" placeholder) or past the end of the calendar. Past or future: the caller says."""
    try:
        if len(value) == 10:
            when = datetime.combine(date.fromisoformat(value), time(), tzinfo=zone)
        else:
            when = datetime.fromisoformat(value)
            when = when if when.tzinfo else when.replace(tzinfo=zone)
    except (ValueError, OverflowError):
        raise RowError(f"{column} {shown(value)} is not an ISO 8601 date "
                       "(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS+01:00)") from None
    return in_calendar(when, value, column)


def in_calendar(when: datetime, value: str, column: str) -> datetime:
    """`when` in UTC; refused before 1900 (a "no date" placeholder) or past the calendar's end."""
    if when.year < EARLIEST_YEAR:
        raise RowError(f"{column} {value} is before {EARLIEST_YEAR}: a 'no date' "
                       "placeholder? leave the field empty when there is no date")
    try:
        return when.astimezone(UTC)
    except OverflowError:  # 9999-12-31 with a negative offset: past the end of the calendar
        raise RowError(f"{column} {value} is in the future, past the end of the calendar") from None


def parse_when(value: str, column: str, zone: tzinfo, now: datetime) -> datetime:
    """An ISO 8601 date or datetime in UTC, read in `zone` without an offset; never future."""
    when = read_moment(value, column, zone)
    if when > now:
        raise RowError(f"{column} {value} is in the future")
    return when
