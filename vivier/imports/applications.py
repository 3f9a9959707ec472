"""Applications from the ATS (CSV or JSON Lines): one row per candidate and job, kept current.

Columns: external_id (the candidate's ATS id), job (the ATS job id), applied_at (required)
and outcome, outcome_at (optional). Decisions worth knowing:
- A row for a (candidate, job) already known keeps the earliest `applied_at` and takes the
  row's outcome; a row without an outcome leaves the stored one alone (new rows: `applied`).
- `candidates.last_applied_at` moves forward to the latest application, never back.
- An `applied` interaction is recorded once per candidate and job, and a `hired` one once
  when the outcome becomes `hired` (at `outcome_at`, else at import time): their `event_key`
  makes a re-import record nothing twice.
- An unknown or erased candidate's row is rejected with its line number, also under a case
  variant of an erased person's ATS id; so is an outcome dated before the application.
- Two rows for one application in a file make one: the later ones count as skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, or_, select, update

from vivier.imports.candidates import CANDIDATES
from vivier.imports.chunks import CandidateRows, load_per_candidate
from vivier.imports.erased import default_keys
from vivier.imports.fields import DEFAULT_ZONE, clean_text, parse_when
from vivier.imports.report import ImportReport, Rejection, RowError, shown
from vivier.imports.rows import read_rows
from vivier.rules.identity import ErasureKeys
from vivier.store.schema import APPLICATION_OUTCOMES, Application, Candidate, utcnow
from vivier.store.sql import record_events

APPLICATION_COLUMNS = ("external_id", "job", "applied_at")
APPLICATION_OPTIONAL = ("outcome", "outcome_at")
SOURCE = "ats"
Pair = tuple[int, str]  # (candidate id, ATS job id)


@dataclass
class ApplicationImportReport(ImportReport):
    """An import report (imported = new applications) plus the hires recorded now."""

    hires: int = 0


def application_row(record: dict[str, str], zone: tzinfo, now: datetime) -> dict[str, Any]:
    """The values of one row (candidate still to resolve), or RowError saying what is wrong."""
    job = clean_text(record, "job", 64)
    if not job:
        raise RowError("job is empty: give the ATS job id")
    applied = clean_text(record, "applied_at", None)
    if not applied:
        raise RowError("applied_at is empty")
    outcome = clean_text(record, "outcome", 16).lower() or None
    if outcome is not None and outcome not in APPLICATION_OUTCOMES:
        raise RowError(f"unknown outcome {shown(outcome)}: use {', '.join(APPLICATION_OUTCOMES)}")
    outcome_text = clean_text(record, "outcome_at", None)
    applied_at = parse_when(applied, "applied_at", zone, now)
    outcome_at = parse_when(outcome_text, "outcome_at", zone, now) if outcome_text else None
    if outcome_at is not None and outcome_at < applied_at:
        raise RowError(f"outcome_at {outcome_text} is before applied_at {applied}: "
                       f"an application cannot be {outcome or 'decided'} before it was made")
    return {"job_ref": job, "applied_at": applied_at, "outcome": outcome, "outcome_at": outcome_at}


def import_applications(
    engine: Engine, path: Path | str, zone: tzinfo = DEFAULT_ZONE, now: datetime | None = None,
    keys: ErasureKeys | None = None,
) -> ApplicationImportReport:
    """Upsert the applications of an ATS file; report rejected lines and hires recorded.

    `keys` recognise erased people (None: those of the process settings).
    """
    path, now = Path(path), now or utcnow()
    report = ApplicationImportReport(file=path.name)
    load_per_candidate(engine, read_rows(path, APPLICATION_COLUMNS, APPLICATION_OPTIONAL, report),
                       report, lambda record: application_row(record, zone, now),
                       lambda conn, chunk: _upsert(conn, chunk, report, now), default_keys(keys))
    return report


def _upsert(
    conn: Connection, chunk: CandidateRows, report: ApplicationImportReport, now: datetime
) -> None:
    """Merge the chunk's rows per (candidate, job), then insert or update, and record interactions."""
    if not chunk:
        return
    people = {row.external_id: row for row in conn.execute(
        select(Candidate.external_id, Candidate.id, Candidate.erased_at)
        .where(Candidate.external_id.in_({ats_id for _, ats_id, _ in chunk})))}
    wanted: dict[Pair, dict[str, Any]] = {}
    for line, ats_id, row in chunk:
        person = people.get(ats_id)
        if person is None or person.erased_at is not None:
            report.rejected.append(Rejection(line, ats_id, (
                "unknown candidate external_id: import candidates first "
                "(vivier import candidates FILE.csv)") if person is None else
                "candidate was erased: their applications are not imported"))
            continue
        report.skipped += _merge(wanted, (person.id, row["job_ref"]), row)
    stored = {(row.candidate_id, row.job_ref): row for row in conn.execute(
        select(Application.id, Application.candidate_id, Application.job_ref,
               Application.applied_at, Application.outcome)
        .where(Application.candidate_id.in_({cid for cid, _ in wanted})))}
    inserts, updates = [], []
    for pair, row in wanted.items():
        known = stored.get(pair)
        if known is None:
            row["outcome"] = row["outcome"] or "applied"
            inserts.append({"candidate_id": pair[0], "job_ref": pair[1], "source": SOURCE,
                            "applied_at": row["applied_at"], "outcome": row["outcome"],
                            "updated_at": now})
            continue
        row["applied_at"] = min(row["applied_at"], known.applied_at)
        row["outcome"] = row["outcome"] or known.outcome
        if (row["applied_at"], row["outcome"]) == (known.applied_at, known.outcome):
            report.skipped += 1
            continue
        updates.append({"b_id": known.id, "applied_at": row["applied_at"],
                        "outcome": row["outcome"], "updated_at": now})
    if inserts:
        conn.execute(insert(Application), inserts)
    if updates:
        conn.execute(update(Application).where(Application.id == bindparam("b_id")), updates)
    report.imported += len(inserts)
    report.updated += len(updates)
    _move_last_applied(conn, wanted)
    report.hires += _record_interactions(conn, wanted, now)


def _merge(wanted: dict[Pair, dict[str, Any]], pair: Pair, row: dict[str, Any]) -> bool:
    """Two rows for one application in a file: the earliest date, the later row's outcome.

    True when the row was merged into an earlier one (it counts as skipped).
    """
    earlier = wanted.get(pair)
    if earlier is None:
        wanted[pair] = dict(row)
        return False
    earlier["applied_at"] = min(earlier["applied_at"], row["applied_at"])
    if row["outcome"] is not None:
        earlier["outcome"], earlier["outcome_at"] = row["outcome"], row["outcome_at"]
    return True


def _move_last_applied(conn: Connection, wanted: dict[Pair, dict[str, Any]]) -> None:
    latest: dict[int, datetime] = {}
    for (candidate_id, _), row in wanted.items():
        latest[candidate_id] = max(row["applied_at"], latest.get(candidate_id, row["applied_at"]))
    if latest:
        people = CANDIDATES
        conn.execute(
            update(people).where(people.c.id == bindparam("cid"), or_(
                people.c.last_applied_at.is_(None), people.c.last_applied_at < bindparam("at")))
            .values(last_applied_at=bindparam("at")),
            [{"cid": cid, "at": at} for cid, at in latest.items()])


def _record_interactions(conn: Connection, wanted: dict[Pair, dict[str, Any]], now: datetime) -> int:
    """`applied` once per application, `hired` once per hire; returns the hires recorded now."""
    rows = []
    for (candidate_id, job), row in wanted.items():
        moments = [("applied", row["applied_at"])]
        if row["outcome"] == "hired":
            moments.append(("hired", row["outcome_at"] or now))
        rows += [{"candidate_id": candidate_id, "send_id": None, "kind": kind, "cadence": None,
                  "period_key": None, "flow_run_id": None,
                  "event_key": f"{SOURCE}:{kind}:{candidate_id}:{job}",
                  "details": {"job": job, "source": SOURCE}, "occurred_at": at}
                 for kind, at in moments]
    fresh = record_events(conn, rows)
    return sum(key.startswith(f"{SOURCE}:hired:") for key in fresh)
