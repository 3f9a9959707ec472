"""Provider events from a file (CSV or JSON Lines): what the hook records, in bulk.

Columns (CSV header or JSON keys): type, message_id, occurred_at (required) and id,
bounce_type, url, recipient (optional); empty values count as absent. Each row is one event
as `POST /hooks/events` takes it; a bad row is rejected with its line number and reason, the
good ones are recorded (once each: importing a file twice records nothing new).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from vivier.imports.events import DEFAULT_SOURCE, IngestResult, ProviderEvent, ingest, parse_event
from vivier.imports.report import ImportReport, Rejection, stopped_safely
from vivier.imports.rows import read_rows

EVENT_COLUMNS = ("type", "message_id", "occurred_at")
EVENT_OPTIONAL = ("id", "bounce_type", "url", "recipient")


@dataclass
class EventImportReport(ImportReport):
    """An import report (imported = recorded, skipped = duplicates) with the events' effects."""

    result: IngestResult = field(default_factory=IngestResult)


def import_events(engine: Engine, path: Path | str, source: str = DEFAULT_SOURCE) -> EventImportReport:
    """Record the events of a CSV or JSON Lines file; report rejected lines and the effects."""
    path = Path(path)
    report = EventImportReport(file=path.name)
    with stopped_safely(report):
        report.result = ingest(engine, _events(path, report), source)
    report.imported, report.skipped = report.result.recorded, report.result.duplicates
    report.rejected.sort(key=lambda rejection: rejection.line)
    return report


def _events(path: Path, report: ImportReport) -> Iterator[ProviderEvent]:
    """The file's valid events, streamed; invalid rows go to the report's rejections."""
    for line, record in read_rows(path, EVENT_COLUMNS, EVENT_OPTIONAL, report):
        if record is None:
            continue
        values = {name: value.strip() for name, value in record.items()
                  if name in EVENT_COLUMNS + EVENT_OPTIONAL and value.strip()}
        event, problems = parse_event(line, values)
        if event is not None:
            yield event
        else:
            report.rejected.append(Rejection(line, None, "; ".join(
                f"{problem.field}: {problem.message}" for problem in problems)))
