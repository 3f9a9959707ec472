"""What an import tells the operator: the report of a file, its rejected lines, and its errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# What a report may quote of a row: short, plain ASCII codes. A shifted column (a quote or a
# comma out of place) can put a name or an address where a status or an id was expected.
_PLAIN_ID = re.compile(r"[\w.:/#+-]{1,64}", re.ASCII)
_PLAIN_VALUE = re.compile(r"[\w.:/+ -]{0,32}", re.ASCII)


class ImportFileError(Exception):
    """The file cannot be read at all; the message says what to fix. Nothing was imported."""


class RowError(ValueError):
    """One row is wrong; the message is safe to show (no email, no names)."""


@dataclass(frozen=True)
class Rejection:
    """A row left out: its line in the file (header is line 1), ATS id, and why."""

    line: int
    external_id: str | None
    reason: str


@dataclass
class ImportReport:
    """What an import did: rows read, new, updated, skipped (already there) and rejected.

    Every row read is counted once: `read == imported + updated + skipped + len(rejected)`.
    `line` is the last line read, to say where an import stopped.
    """

    file: str
    read: int = 0
    imported: int = 0
    updated: int = 0
    skipped: int = 0
    suppressed_matches: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    line: int = 0


def shown_id(value: str | None) -> str | None:
    """An ATS id as a report shows it: None unless it looks like an id (no spaces, no @)."""
    value = (value or "").strip()
    return value if _PLAIN_ID.fullmatch(value) else None


def shown(value: str) -> str:
    """A value quoted in a rejection reason if short and plain, else only its length."""
    if _PLAIN_VALUE.fullmatch(value):
        return repr(value)
    return f"({len(value)} characters, not shown)"


def unexpected(exc: BaseException) -> str:
    """The reason shown for an error nobody foresaw: its type only (its text may hold values)."""
    return f"unexpected error ({type(exc).__name__}): tell the vivier maintainers"


@contextmanager
def stopped_safely(report: ImportReport) -> Iterator[None]:
    """Turn an unforeseen error into an ImportFileError naming the line and the error's type only.

    The import runs in one transaction, rolled back by then: nothing of the file is stored.
    The original error is dropped on purpose: its message and traceback may hold row values.
    """
    try:
        yield
    except ImportFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - anything else would print row values
        raise ImportFileError(
            f"{report.file}: the import stopped at line {report.line} on an {unexpected(exc)}. "
            "Nothing was imported.") from None
