"""What an import tells the operator: the report of a file, its rejected lines, and its errors."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    """What an import did: new rows, updated rows, skipped duplicates and rejected lines."""

    file: str
    imported: int = 0
    updated: int = 0
    skipped: int = 0
    suppressed_matches: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
