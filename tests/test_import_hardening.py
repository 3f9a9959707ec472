"""Bad input at import (issue 13): each kind rejected by line, the rest imported, nothing personal shown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import app
from tests import builders
from tests.test_import import GOOD, HEADER, only_rejection, stored, write
from vivier.gdpr.anonymise import anonymise
from vivier.imports import candidates as candidates_module
from vivier.imports.applications import import_applications
from vivier.imports.candidates import import_candidates
from vivier.imports.consents import import_consents
from vivier.imports.event_file import import_events
from vivier.imports.events import parse_events
from vivier.imports.fields import clean_text
from vivier.imports.report import ImportFileError, ImportReport, RowError
from vivier.rules.identity import ErasureKeys, email_hash
from vivier.store.schema import Application, Candidate, Consent, ErasureKey, Suppression

runner = CliRunner()
KEYS = ErasureKeys.of("a-test-secret-of-at-least-32-bytes!!")
CONSENT_HEADER = "external_id,state,recorded_at"
APPLICATION_HEADER = "external_id,job,applied_at,outcome,outcome_at"
EVENT_HEADER = "type,message_id,occurred_at"
PLACEHOLDERS = ["0001-01-01", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


def counts_add_up(report: ImportReport) -> bool:
    return report.read == report.imported + report.updated + report.skipped + len(report.rejected)


def count(engine: sa.Engine, model: type) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(model)) or 0


# --- dates at the edge of the calendar ---------------------------------------------------------

@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
def test_an_edge_date_rejects_its_candidate_row_only(engine, tmp_path, placeholder) -> None:
    rows = [GOOD.format(n=n) for n in range(1, 6)]
    rows[2] = rows[2].replace("2026-01-15", placeholder)
    report = import_candidates(engine, write(tmp_path, HEADER, *rows), keys=KEYS)
    line, ats_id, reason = only_rejection(report)
    assert (line, ats_id, report.imported) == (4, "ATS-3", 4)
    assert "last_applied_at" in reason and ("1900" in reason or "future" in reason)
    assert counts_add_up(report)


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
def test_an_edge_date_rejects_its_consent_and_application_rows_only(engine, tmp_path, placeholder) -> None:
    import_candidates(engine, write(tmp_path, HEADER, GOOD.format(n=1)), keys=KEYS)
    consents = import_consents(engine, write(
        tmp_path, CONSENT_HEADER, "ATS-1,granted,2025-01-01", f"ATS-1,denied,{placeholder}",
        name="consents.csv"), keys=KEYS)
    applications = import_applications(engine, write(
        tmp_path, APPLICATION_HEADER, f"ATS-1,J1,{placeholder},,", "ATS-1,J2,2025-01-01,hired,"
        f"{placeholder}", "ATS-1,J3,2025-01-01,,", name="applications.csv"), keys=KEYS)
    assert (consents.imported, [r.line for r in consents.rejected]) == (1, [3])
    assert (applications.imported, [r.line for r in applications.rejected]) == (1, [2, 3])
    assert counts_add_up(consents) and counts_add_up(applications)


@pytest.mark.parametrize("placeholder", PLACEHOLDERS[1:])
def test_an_edge_date_in_an_event_is_a_problem_of_that_event(engine, tmp_path, placeholder) -> None:
    events, problems = parse_events([
        {"type": "opened", "message_id": "<a@example.org>", "occurred_at": "2025-01-01T10:00:00Z"},
        {"type": "opened", "message_id": "<b@example.org>", "occurred_at": placeholder}])
    assert len(events) == 1 and [(p.index, p.field) for p in problems] == [(1, "occurred_at")]
    report = import_events(engine, write(
        tmp_path, EVENT_HEADER, "opened,<a@example.org>,2025-01-01T10:00:00Z",
        f"opened,<b@example.org>,{placeholder}", name="events.csv"))
    assert (report.imported, [r.line for r in report.rejected]) == (1, [3])


def test_the_cli_reports_an_edge_date_by_line_without_personal_data(settings, tmp_path) -> None:
    rows = [GOOD.format(n=n) for n in range(1, 4)]
    rows[1] = rows[1].replace("2026-01-15", "0001-01-01")
    result = runner.invoke(app, ["import", "candidates", str(write(tmp_path, HEADER, *rows))])
    assert result.exit_code == 1, result.output
    assert "2 candidates imported" in result.output and "ATS-2" in result.output
    assert "Traceback" not in result.output
    assert "@example.org" not in result.output and "Martin" not in result.output


# --- errors nobody foresaw -----------------------------------------------------------------------

def test_an_unexpected_error_in_a_row_rejects_that_row_naming_only_its_type(
    settings, tmp_path, monkeypatch
) -> None:
    real = candidates_module.candidate_row

    def flaky(record, zone, now):
        if record["external_id"] == "ATS-2":
            raise KeyError(f"{record['email']} {record['last_name']}")
        return real(record, zone, now)

    monkeypatch.setattr(candidates_module, "candidate_row", flaky)
    path = write(tmp_path, HEADER, GOOD.format(n=1), GOOD.format(n=2), GOOD.format(n=3))
    result = runner.invoke(app, ["import", "candidates", str(path)])
    assert result.exit_code == 1
    assert "unexpected error (KeyError)" in result.output and "2 candidates imported" in result.output
    assert "person2@" not in result.output and "Martin" not in result.output


def test_an_unexpected_error_outside_a_row_stops_the_import_storing_nothing(
    settings, engine, tmp_path, monkeypatch
) -> None:
    def broken(connection, chunk, *args):
        raise RuntimeError(f"cannot write {chunk[0][1]['email']}")

    monkeypatch.setattr(candidates_module, "_upsert_candidates", broken)
    path = write(tmp_path, HEADER, GOOD.format(n=1), GOOD.format(n=2))
    result = runner.invoke(app, ["import", "candidates", str(path)])
    assert result.exit_code == 2
    assert "RuntimeError" in result.output and "line 3" in result.output
    assert "person1@" not in result.output and "Traceback" not in result.output
    assert count(engine, Candidate) == 0


# --- erased people stay erased ---------------------------------------------------------------------

def erase(engine: sa.Engine, ats_id: str, keys: ErasureKeys = KEYS) -> None:
    with engine.begin() as conn:
        candidate_id = conn.scalar(sa.select(Candidate.id).where(Candidate.external_id == ats_id))
        anonymise(conn, [candidate_id], source="request", keys=keys,
                  now=datetime(2026, 3, 2, 10, 0, tzinfo=UTC))


@pytest.mark.both_dialects
@pytest.mark.parametrize("again", [
    pytest.param(GOOD.format(n=1).replace("ATS-1", "ATS-9"), id="another_ats_id_same_address"),
    pytest.param(GOOD.format(n=1).replace("ATS-1", "ats-1").replace("person1@", "new1@"),
                 id="same_ats_id_in_another_case"),
    pytest.param(GOOD.format(n=1).replace("ATS-1", "ATS-9").replace("person1@", "PERSON1@"),
                 id="address_in_another_case"),
])
def test_an_erased_person_is_not_stored_again_under_any_id(engine, tmp_path, again) -> None:
    import_candidates(engine, write(tmp_path, HEADER, GOOD.format(n=1), GOOD.format(n=2)), keys=KEYS)
    erase(engine, "ATS-1")
    report = import_candidates(engine, write(tmp_path, HEADER, again, GOOD.format(n=3),
                                             name="again.csv"), keys=KEYS)
    line, _, reason = only_rejection(report)
    assert line == 2 and "asked to be erased on 2026-03-02" in reason
    assert "remove them from the ATS export" in reason and report.imported == 1
    with engine.connect() as conn:
        emails = conn.scalars(sa.select(Candidate.email)).all()
        digests = conn.scalars(sa.select(ErasureKey.digest)).all()
    assert "person1@example.org" not in {str(e).lower() for e in emails}
    assert len(digests) == 2 and email_hash("person1@example.org") not in digests  # keyed, not plain


@pytest.mark.both_dialects
def test_consents_and_applications_of_an_erased_person_are_refused_under_a_case_variant(
    engine, tmp_path
) -> None:
    import_candidates(engine, write(tmp_path, HEADER, GOOD.format(n=1)), keys=KEYS)
    erase(engine, "ATS-1")
    builders.candidate(engine, external_id="ats-1")  # imported before vivier compared ids without case
    consents = import_consents(engine, write(tmp_path, CONSENT_HEADER, "ats-1,granted,2025-01-01",
                                             name="consents.csv"), keys=KEYS)
    applications = import_applications(engine, write(
        tmp_path, APPLICATION_HEADER, "ats-1,J1,2025-01-01,,", name="applications.csv"), keys=KEYS)
    for report in (consents, applications):
        assert "asked to be erased on 2026-03-02" in only_rejection(report)[2]
    assert count(engine, Application) == 0
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Consent)
                           .where(Consent.source == "ats_import")) == 0


def test_erasure_keys_made_with_a_retired_secret_still_refuse(engine, tmp_path) -> None:
    import_candidates(engine, write(tmp_path, HEADER, GOOD.format(n=1)), keys=KEYS)
    erase(engine, "ATS-1", keys=ErasureKeys.of("the-old-secret-retired-since-then-000"))
    rotated = ErasureKeys.of("a-new-secret-of-at-least-32-bytes-0000",
                             ["the-old-secret-retired-since-then-000"])
    again = GOOD.format(n=1).replace("ATS-1", "ATS-9")
    report = import_candidates(engine, write(tmp_path, HEADER, again, name="again.csv"), keys=rotated)
    assert "candidate was erased" in only_rejection(report)[2]


# --- addresses ---------------------------------------------------------------------------------------

@pytest.mark.both_dialects
def test_an_internationalised_domain_is_stored_in_its_ascii_form(engine, tmp_path) -> None:
    row = GOOD.format(n=1).replace("person1@example.org", "zoé@exämple.fr")
    assert import_candidates(engine, write(tmp_path, HEADER, row), keys=KEYS).rejected == []
    assert stored(engine, "ATS-1").email == "zoé@xn--exmple-cua.fr"


@pytest.mark.parametrize(("address", "reason"), [
    ("snow@☃.net", "not a valid internationalised domain name"),
    ("zero\u200bwidth@example.org", "not a valid address"),
    ("bom\ufeff@example.org", "not a valid address"),
    ("joiner@exam\u2060ple.org", "not a valid address"),
    ("bidi\u202e@example.org", "control or bidirectional"),
])
def test_an_address_that_cannot_be_sent_to_is_rejected(engine, tmp_path, address, reason) -> None:
    row = GOOD.format(n=1).replace("person1@example.org", address)
    report = import_candidates(engine, write(tmp_path, HEADER, GOOD.format(n=2), row), keys=KEYS)
    assert reason in only_rejection(report)[2] and report.imported == 1


@pytest.mark.both_dialects
def test_addresses_differing_only_in_case_are_reported_at_import(engine, tmp_path) -> None:
    import_candidates(engine, write(tmp_path, HEADER, GOOD.format(n=1)), keys=KEYS)
    same_in_file = GOOD.format(n=3).replace("ATS-3", "ATS-4").replace("person3@", "Person3@")
    same_as_pool = GOOD.format(n=5).replace("person5@", "PERSON1@")
    report = import_candidates(engine, write(
        tmp_path, HEADER, GOOD.format(n=3), same_in_file, same_as_pool, GOOD.format(n=1),
        name="second.csv"), keys=KEYS)
    reasons = {rejection.line: rejection.reason for rejection in report.rejected}
    assert "email is already on line 2 (ATS-3" in reasons[3]
    assert "email is already held by candidate ATS-1" in reasons[4]
    assert (report.imported, report.updated, sorted(reasons)) == (1, 1, [3, 4])


# --- spreadsheet formulas and bidi characters ----------------------------------------------------------

@pytest.mark.parametrize("value", [
    "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", '=HYPERLINK("http://x","y")',
    "+1+cmd|' /C calc'!A0", "＝1+1", "＋1", "＠SUM(A1)", "－1+1", "--1",
])
def test_spreadsheet_formulas_are_refused(value) -> None:
    with pytest.raises(RowError, match="spreadsheet formula"):
        clean_text({"city": value}, "city", None)


@pytest.mark.parametrize("value", ["\t=1+1", "\r=1+1", "Jean\u202eluaP", "Zo\u2066é"])
def test_leading_tabs_returns_and_bidi_controls_are_refused(value) -> None:
    with pytest.raises(RowError, match="control or bidirectional"):
        clean_text({"first_name": value}, "first_name", None)


@pytest.mark.parametrize("value", ["-5", "-", "-2.5", "Marie-Ève", "a-b"])
def test_numbers_and_inner_dashes_are_not_formulas(value) -> None:
    assert clean_text({"city": value}, "city", None) == value


def test_each_tag_is_checked_for_a_formula(engine, tmp_path) -> None:
    row = GOOD.format(n=1).replace("a;b", "ok;=cmd|' /C calc'!A0")
    report = import_candidates(engine, write(tmp_path, HEADER, GOOD.format(n=2), row), keys=KEYS)
    assert "tags starts with '='" in only_rejection(report)[2]


# --- CSV structure --------------------------------------------------------------------------------------

def test_an_unterminated_quote_is_reported_and_the_counts_add_up(engine, tmp_path) -> None:
    broken = GOOD.format(n=2).replace("Lyon", '"Lyon')  # the quote never closes
    path = write(tmp_path, HEADER, GOOD.format(n=1), broken, GOOD.format(n=3), GOOD.format(n=4))
    report = import_candidates(engine, path, keys=KEYS)
    assert [r.line for r in report.rejected] == [3, 4, 5]
    assert "quoted field opened on this line runs to line 5" in report.rejected[0].reason
    assert (report.read, report.imported) == (4, 1) and counts_add_up(report)


@pytest.mark.both_dialects
def test_an_over_long_ats_id_is_rejected_never_cut(engine, tmp_path) -> None:
    builders.candidate(engine, external_id="A" * 64)
    long_id = "A" * 64 + "B"
    consents = import_consents(engine, write(tmp_path, CONSENT_HEADER, f"{long_id},granted,2025-01-01",
                                             name="consents.csv"), keys=KEYS)
    applications = import_applications(engine, write(
        tmp_path, APPLICATION_HEADER, f"{long_id},J1,2025-01-01,,", name="applications.csv"), keys=KEYS)
    row = GOOD.format(n=1).replace("ATS-1", long_id)
    candidates = import_candidates(engine, write(tmp_path, HEADER, row), keys=KEYS)
    for report in (consents, applications, candidates):
        assert "external_id is 65 characters long; the limit is 64" in only_rejection(report)[2]
    assert count(engine, Application) == 0 and count(engine, Candidate) == 1
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Consent)
                           .where(Consent.source == "ats_import")) == 0


def test_a_corrected_row_after_an_invalid_duplicate_is_taken(engine, tmp_path) -> None:
    invalid = GOOD.format(n=1).replace("active", "hired")
    report = import_candidates(engine, write(tmp_path, HEADER, invalid, GOOD.format(n=1)), keys=KEYS)
    assert only_rejection(report)[0] == 2 and report.imported == 1
    assert stored(engine, "ATS-1").status == "active"


def test_a_semicolon_separated_file_gets_a_hint(engine, tmp_path) -> None:
    path = write(tmp_path, HEADER.replace(",", ";"), GOOD.format(n=1).replace(",", ";"))
    with pytest.raises(ImportFileError, match="separated by ';', not commas"):
        import_candidates(engine, path, keys=KEYS)


def test_an_application_decided_before_it_was_made_is_rejected(engine, tmp_path) -> None:
    import_candidates(engine, write(tmp_path, HEADER, GOOD.format(n=1)), keys=KEYS)
    report = import_applications(engine, write(
        tmp_path, APPLICATION_HEADER, "ATS-1,J1,2025-03-01,hired,2025-02-01",
        "ATS-1,J2,2025-03-01,hired,2025-03-15", name="applications.csv"), keys=KEYS)
    line, _, reason = only_rejection(report)
    assert line == 2 and "outcome_at 2025-02-01 is before applied_at 2025-03-01" in reason
    assert report.imported == 1


@pytest.mark.both_dialects
def test_a_person_erased_before_erasure_keys_existed_is_refused_by_their_suppression(
    engine, tmp_path
) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(Suppression), {
            "email_hash": email_hash("person1@example.org"), "reason": "erasure",
            "source": "gdpr-request", "created_at": datetime(2025, 5, 4, tzinfo=UTC)})
    again = GOOD.format(n=1).replace("person1@", "Person1@")
    report = import_candidates(engine, write(tmp_path, HEADER, again), keys=KEYS)
    assert "asked to be erased on 2025-05-04" in only_rejection(report)[2]
    assert count(engine, Candidate) == 0
