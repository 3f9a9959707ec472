"""The checks every batch of extracted candidates passes before anyone is messaged."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd

# The one copy of the contact rules: the ATS import reads the same, so imported rows pass.
from vivier.rules.contact import (
    CONTROL_PATTERN,
    EMAIL_PATTERN,
    LOCALE_PATTERN,
    MAX_LENGTHS,
    STATUSES,
    VISIBLE_CHARACTER_PATTERN,
)

if TYPE_CHECKING:  # imported by `expectations()` only: see data_checks/runner.py
    from great_expectations.expectations import Expectation

DATASET = "candidates"
DESCRIPTION = (
    "Candidates extracted for a cadence run: a well-formed email not already met in the run, "
    "a first and last name to greet them by, a French or English locale, a known status, "
    "no date from the future, and fields short enough for templates and mail headers."
)
THRESHOLD = 0.05  # the run's gate reads settings.quality_threshold; this is its default

REQUIRED_TEXT = ("email", "first_name", "last_name", "locale", "status")
OPTIONAL_TEXT = ("external_id", "city", "search_location", "expertise")
DATE_COLUMNS = ("last_applied_at", "last_contacted_at", "created_at")
COLUMNS = ("id", *REQUIRED_TEXT, *OPTIONAL_TEXT, *DATE_COLUMNS, "duplicate_of")
CLOCK_SKEW = timedelta(minutes=5)  # an upstream clock a little ahead is not broken data


def prepare(candidates: pd.DataFrame) -> pd.DataFrame:
    """The batch as the checks read it: missing text is empty text, dates are UTC, ids nullable."""
    missing = [name for name in COLUMNS if name not in candidates.columns]
    if missing:
        raise ValueError(
            f"candidate batch lacks column(s) {', '.join(missing)}: the extract query must "
            f"select {', '.join(COLUMNS)}"
        )
    prepared = candidates.loc[:, list(COLUMNS)].reset_index(drop=True)
    for name in REQUIRED_TEXT:
        # GX regex and set expectations skip nulls; as "" a missing value fails them.
        prepared[name] = prepared[name].astype("string").fillna("")
    for name in OPTIONAL_TEXT:
        prepared[name] = prepared[name].astype("string")
    for name in DATE_COLUMNS:
        try:
            prepared[name] = pd.to_datetime(prepared[name], utc=True)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"candidate batch column {name} holds values that are not dates: the extract "
                "query must return datetimes or None"
            ) from exc
    prepared["duplicate_of"] = prepared["duplicate_of"].astype("Int64")
    return prepared


def expectations(now: datetime) -> list[tuple[str, Expectation]]:
    """Each check's name with the GX expectation(s) that make it, read on a `prepare`d batch."""
    import great_expectations as gx

    x = gx.expectations
    match, never = x.ExpectColumnValuesToMatchRegex, x.ExpectColumnValuesToNotMatchRegex
    return [
        ("email_syntax", match(column="email", regex=EMAIL_PATTERN)),
        ("first_name_required", match(column="first_name", regex=VISIBLE_CHARACTER_PATTERN)),
        ("last_name_required", match(column="last_name", regex=VISIBLE_CHARACTER_PATTERN)),
        ("names_clean", never(column="first_name", regex=CONTROL_PATTERN)),
        ("names_clean", never(column="last_name", regex=CONTROL_PATTERN)),
        ("locale_supported", match(column="locale", regex=LOCALE_PATTERN)),
        ("status_known", x.ExpectColumnValuesToBeInSet(column="status", value_set=list(STATUSES))),
        # The caller points every later holder of an email at its first holder in the run.
        ("email_unique", x.ExpectColumnValuesToBeNull(column="duplicate_of")),
        *[
            (
                "dates_not_in_future",
                x.ExpectColumnValuesToBeBetween(column=name, max_value=now + CLOCK_SKEW),
            )
            for name in DATE_COLUMNS
        ],
        *[
            ("field_lengths", x.ExpectColumnValueLengthsToBeBetween(column=name, max_value=limit))
            for name, limit in MAX_LENGTHS.items()
        ],
    ]
