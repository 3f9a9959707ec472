"""ATS consent events from a CSV export, appended to the consent log once each.

Columns: external_id, state, recorded_at (required) and source, evidence (optional).
Every row is validated; bad rows are reported with their line number and reason. An event
already recorded (same candidate, state and time) is skipped; events about an unknown or
erased candidate are rejected, also under a case variant of an erased person's ATS id.
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, insert, select

from vivier.imports.candidates import CANDIDATES
from vivier.imports.chunks import CandidateRows, load_per_candidate
from vivier.imports.erased import default_keys
from vivier.imports.fields import DEFAULT_ZONE, clean_text, parse_when
from vivier.imports.report import ImportReport, Rejection, RowError, shown
from vivier.imports.rows import read_csv_records
from vivier.rules.identity import ErasureKeys
from vivier.store.schema import CONSENT_STATES, Consent, utcnow

CONSENT_COLUMNS = ("external_id", "state", "recorded_at")
CONSENT_OPTIONAL = ("source", "evidence")
MAX_EVIDENCE_LENGTH = 2_000
CONSENTS = cast(Table, Consent.__table__)


def consent_row(record: dict[str, str], zone: tzinfo, now: datetime) -> dict[str, Any]:
    """The `consents` values of one CSV row (candidate id still to resolve), or RowError."""
    state = clean_text(record, "state", 16).lower()
    if state not in CONSENT_STATES:
        raise RowError(f"unknown state {shown(state)}: use {', '.join(CONSENT_STATES)}")
    recorded = clean_text(record, "recorded_at", None)
    if not recorded:
        raise RowError("recorded_at is empty")
    source = clean_text(record, "source", 64) or "ats_import"
    evidence_text = clean_text(record, "evidence", MAX_EVIDENCE_LENGTH)
    evidence: dict[str, Any] = {"note": evidence_text} if evidence_text else {}
    if evidence_text.startswith("{"):
        try:
            evidence = json.loads(evidence_text)
        except ValueError:
            evidence = {}
        if not isinstance(evidence, dict) or not evidence:
            raise RowError("evidence starts with '{' but is not a JSON object")
    return {"purpose": "nurturing", "state": state, "source": source, "evidence": evidence,
            "recorded_at": parse_when(recorded, "recorded_at", zone, now)}


def import_consents(
    engine: Engine, path: Path | str, zone: tzinfo = DEFAULT_ZONE, now: datetime | None = None,
    keys: ErasureKeys | None = None,
) -> ImportReport:
    """Append the consent events of an ATS CSV; an event already recorded is skipped.

    `keys` recognise erased people (None: those of the process settings).
    """
    path, now = Path(path), now or utcnow()
    report = ImportReport(file=path.name)
    load_per_candidate(engine, read_csv_records(path, CONSENT_COLUMNS, CONSENT_OPTIONAL, report), report,
                       lambda record: consent_row(record, zone, now),
                       lambda connection, chunk: _append_consents(connection, chunk, report),
                       default_keys(keys))
    return report


def _append_consents(connection: Any, chunk: CandidateRows, report: ImportReport) -> None:
    """Resolve ATS ids, drop events already in the log, append the rest."""
    if not chunk:
        return
    candidates, consents = CANDIDATES, CONSENTS
    people = connection.execute(select(candidates.c.external_id, candidates.c.id,
                                       candidates.c.erased_at).where(
        candidates.c.external_id.in_({ats_id for _, ats_id, _ in chunk}))).all()
    ids = {person.external_id: person.id for person in people if person.erased_at is None}
    erased = {person.external_id for person in people if person.erased_at is not None}
    recorded = {(candidate_id, state, at.timestamp()) for candidate_id, state, at in
                connection.execute(select(consents.c.candidate_id, consents.c.state,
                                          consents.c.recorded_at).where(
                    consents.c.candidate_id.in_(set(ids.values())),
                    consents.c.purpose == "nurturing"))}
    fresh = []
    for line, ats_id, event in chunk:
        if ats_id in erased:
            report.rejected.append(Rejection(line, ats_id, (
                "candidate was erased: their consent is not recorded again "
                "(remove them from the ATS export)")))
            continue
        if ats_id not in ids:
            report.rejected.append(Rejection(line, ats_id, (
                "unknown candidate external_id: import candidates first "
                "(vivier import candidates FILE.csv)")))
            continue
        key = (ids[ats_id], event["state"], event["recorded_at"].timestamp())
        if key in recorded:
            report.skipped += 1
            continue
        recorded.add(key)
        fresh.append({**event, "candidate_id": ids[ats_id]})
    if fresh:
        connection.execute(insert(consents), fresh)
    report.imported += len(fresh)
