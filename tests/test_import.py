"""ATS CSV import: good rows in, bad rows reported by line and reason, files refused clearly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import app
from tests import builders
from vivier.imports.candidates import import_candidates
from vivier.imports.consents import import_consents
from vivier.imports.report import ImportFileError, ImportReport
from vivier.rules.identity import email_hash
from vivier.store.schema import Candidate, Consent, Suppression

pytestmark = pytest.mark.both_dialects  # imports' upserts, per dialect

DATA = Path(__file__).parent / "data"
HEADER = ("external_id,email,first_name,last_name,locale,city,search_location,expertise,tags,"
          "status,last_applied_at")
GOOD = ("ATS-{n},person{n}@example.org,Léa,Martin,fr,Lyon,Montréal,Ressources humaines,a;b,"
        "active,2026-01-15")
CONSENT_HEADER = "external_id,state,recorded_at,source,evidence"


def write(tmp_path: Path, *lines: str, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def only_rejection(report: ImportReport) -> tuple[int, str | None, str]:
    assert len(report.rejected) == 1, report.rejected
    rejection = report.rejected[0]
    return rejection.line, rejection.external_id, rejection.reason


def stored(engine: sa.Engine, external_id: str) -> Candidate:
    with engine.connect() as conn:
        return conn.execute(sa.select(Candidate).where(Candidate.external_id == external_id)).one()


def test_a_good_export_is_imported_with_every_field(engine: sa.Engine) -> None:
    report = import_candidates(engine, DATA / "candidates_good.csv")
    assert (report.imported, report.updated, report.rejected) == (4, 0, [])
    lea = stored(engine, "ATS-3")
    assert (lea.locale, lea.city, lea.search_location) == ("fr-CA", "Québec", "Canada")
    assert lea.last_applied_at == datetime(2024, 5, 2, 8, 30, tzinfo=UTC)
    camille = stored(engine, "ATS-1")
    assert camille.tags == ["bilingue", "relocation"]
    assert camille.last_applied_at == datetime(2026, 1, 14, 23, 0, tzinfo=UTC)  # Paris midnight
    assert stored(engine, "ATS-2").locale == "en_GB"


def test_reimporting_updates_by_ats_id_without_duplicates(engine: sa.Engine) -> None:
    import_candidates(engine, DATA / "candidates_good.csv")
    report = import_candidates(engine, DATA / "candidates_good.csv")
    assert (report.imported, report.updated) == (0, 4)
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Candidate)) == 4


def test_absent_optional_columns_leave_stored_values_alone(
    engine: sa.Engine, tmp_path: Path
) -> None:
    import_candidates(engine, DATA / "candidates_good.csv")
    path = write(tmp_path, "external_id,email,first_name,last_name,locale,status",
                 "ATS-1,camille.martin@example.org,Camille,Martin-Roy,fr,passive")
    assert import_candidates(engine, path).updated == 1
    camille = stored(engine, "ATS-1")
    assert (camille.last_name, camille.status, camille.city) == ("Martin-Roy", "passive", "Lyon")


def test_sql_looking_text_is_stored_literally(engine: sa.Engine) -> None:
    import_candidates(engine, DATA / "candidates_good.csv")
    assert stored(engine, "ATS-4").first_name == "Robert'); DROP TABLE candidates;--"


def test_a_utf8_bom_is_accepted(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(("\ufeff" + HEADER + "\n" + GOOD.format(n=1) + "\n").encode("utf-8"))
    assert import_candidates(engine, path).imported == 1


def test_a_missing_file_is_refused(engine: sa.Engine, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="file not found"):
        import_candidates(engine, tmp_path / "nowhere.csv")


def test_a_file_not_in_utf8_names_line_and_byte(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "\n" + GOOD.format(n=1) + "\n").encode("latin-1"))
    in_line = GOOD.format(n=1).index("é") + 1  # counted from 1, like an editor does
    in_file = len(HEADER) + 1 + in_line
    expected = rf"not UTF-8: line 2, byte {in_line} of the line \(byte {in_file} of the file"
    with pytest.raises(ImportFileError, match=expected):
        import_candidates(engine, path)
    with pytest.raises(ImportFileError, match="Save it as UTF-8"):
        import_candidates(engine, path)
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Candidate)) == 0


def test_missing_required_columns_are_named_and_nothing_is_imported(
    engine: sa.Engine, tmp_path: Path
) -> None:
    path = write(tmp_path, "external_id,email,first_name,locale", "ATS-1,a@example.org,Léa,fr")
    with pytest.raises(ImportFileError, match="last_name, status") as caught:
        import_candidates(engine, path)
    assert "Nothing was imported" in str(caught.value)
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Candidate)) == 0


ROW = GOOD.format(n=1)


@pytest.mark.parametrize(("row", "reason"), [
    pytest.param(ROW.replace("person1@example.org", "person1@"),
                 "email is not a valid address", id="invalid_email"),
    pytest.param(ROW.replace("Léa", ""), "first_name is empty", id="empty_first_name"),
    pytest.param(ROW.replace("Martin", " "), "last_name is empty", id="empty_last_name"),
    pytest.param(ROW.replace("active", "hired"), "unknown status 'hired'", id="unknown_status"),
    pytest.param(ROW.replace(",fr,", ",de,"), "unsupported locale 'de'", id="unsupported_locale"),
    pytest.param(ROW.replace("2026-01-15", "15/01/2026"),
                 "last_applied_at '15/01/2026' is not an ISO 8601 date", id="bad_date"),
    pytest.param(ROW.replace("2026-01-15", "2999-01-01"),
                 "last_applied_at 2999-01-01 is in the future", id="future_date"),
    pytest.param(ROW.replace("Léa", "L" * 101),
                 "first_name is 101 characters long; the limit is 100", id="too_long"),
    pytest.param(ROW.replace("Léa", '"Léa\tMarie"'),
                 "first_name contains a line break, control", id="tab"),
    pytest.param(ROW.replace("Lyon", '"=HYPERLINK(""http://x"")"'),
                 "city starts with '=' like a spreadsheet formula", id="formula_equals"),
    pytest.param(ROW.replace("Lyon", "+33 cmd"), "city starts with '+'", id="formula_plus"),
    pytest.param(ROW.replace("Martin", "@SUM(A1)"), "last_name starts with '@'", id="formula_at"),
    pytest.param(ROW.replace("Martin", "-Martin"), "last_name starts with '-'", id="formula_minus"),
    pytest.param(ROW + ",extra", "has 12 fields where the header has 11", id="field_count"),
])
def test_a_bad_row_is_rejected_with_its_line_and_reason(
    engine: sa.Engine, tmp_path: Path, row: str, reason: str
) -> None:
    path = write(tmp_path, HEADER, GOOD.format(n=0), row, GOOD.format(n=2))
    report = import_candidates(engine, path)
    line, external_id, text = only_rejection(report)
    assert (line, external_id) == (3, "ATS-1")
    assert reason in text
    assert "person1@" not in text and "Léa" not in text  # no PII in the report
    assert report.imported == 2


def test_a_minus_before_a_digit_is_not_a_formula(engine: sa.Engine, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, GOOD.format(n=1).replace("a;b", "-1;x"))
    assert import_candidates(engine, path).rejected == []
    assert stored(engine, "ATS-1").tags == ["-1", "x"]


def test_a_duplicate_ats_id_rejects_the_later_line_naming_the_first(
    engine: sa.Engine, tmp_path: Path
) -> None:
    path = write(tmp_path, HEADER, GOOD.format(n=1), GOOD.format(n=2), GOOD.format(n=1))
    report = import_candidates(engine, path)
    assert only_rejection(report) == (4, "ATS-1", "duplicate external_id: already on line 2")
    assert report.imported == 2


def test_a_line_break_inside_quotes_keeps_later_line_numbers_right(
    engine: sa.Engine, tmp_path: Path
) -> None:
    broken = GOOD.format(n=1).replace("Lyon", '"Ly\non"')
    path = write(tmp_path, HEADER, broken, GOOD.format(n=2).replace("active", "nope"))
    report = import_candidates(engine, path)
    lines = [(r.line, r.external_id) for r in report.rejected]
    assert lines == [(2, "ATS-1"), (3, None), (4, "ATS-2")]  # line 3 was read into line 2's field
    assert report.read == 3 == report.imported + len(report.rejected)


def test_a_suppressed_email_reimported_stays_suppressed(engine: sa.Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(Suppression), {"email_hash": email_hash("PERSON1@example.org"),
                                              "reason": "unsubscribe", "source": "test"})
    report = import_candidates(engine, write(tmp_path, HEADER, GOOD.format(n=1), GOOD.format(n=2)))
    assert (report.imported, report.suppressed_matches) == (2, 1)
    with engine.connect() as conn:
        assert conn.scalar(sa.select(Suppression.reason)) == "unsubscribe"


def test_an_erased_candidate_is_not_reimported(engine: sa.Engine, tmp_path: Path) -> None:
    builders.candidate(engine, external_id="ATS-1", email=None, first_name=None,
                       erased_at=datetime(2026, 1, 1, tzinfo=UTC))
    report = import_candidates(engine, write(tmp_path, HEADER, GOOD.format(n=1)))
    assert "erased" in only_rejection(report)[2]
    assert stored(engine, "ATS-1").email is None


def consent_file(tmp_path: Path, *rows: str) -> Path:
    return write(tmp_path, CONSENT_HEADER, *rows, name="consents.csv")


def test_consent_events_are_appended_and_never_twice(engine: sa.Engine, tmp_path: Path) -> None:
    import_candidates(engine, DATA / "candidates_good.csv")
    path = consent_file(
        tmp_path,
        'ATS-1,granted,2025-06-01T10:00:00+02:00,ats_import,"{""form"": ""application""}"',
        "ATS-1,withdrawn,2025-09-01,preference_centre,clicked the link",
        "ATS-2,GRANTED,2025-07-01,,",
    )
    assert (import_consents(engine, path).imported, import_consents(engine, path).skipped) == (3, 3)
    with engine.connect() as conn:
        events = conn.execute(sa.select(Consent.state, Consent.source, Consent.evidence)
                              .order_by(Consent.recorded_at)).all()
    assert [tuple(e) for e in events] == [
        ("granted", "ats_import", {"form": "application"}),
        ("granted", "ats_import", {}),
        ("withdrawn", "preference_centre", {"note": "clicked the link"}),
    ]


@pytest.mark.parametrize(("row", "reason"), [
    pytest.param("ATS-9,granted,2025-06-01,,",
                 "unknown candidate external_id: import candidates first", id="unknown_candidate"),
    pytest.param("ATS-1,maybe,2025-06-01,,", "unknown state 'maybe'", id="unknown_state"),
    pytest.param("ATS-1,granted,yesterday,,",
                 "recorded_at 'yesterday' is not an ISO 8601 date", id="bad_date"),
    pytest.param("ATS-1,granted,2999-06-01,,",
                 "recorded_at 2999-06-01 is in the future", id="future_date"),
    pytest.param("ATS-1,granted,2025-06-01,,{oops",
                 "evidence starts with '{' but is not a JSON object", id="bad_evidence"),
])
def test_a_bad_consent_row_is_rejected_with_its_line_and_reason(
    engine: sa.Engine, tmp_path: Path, row: str, reason: str
) -> None:
    import_candidates(engine, DATA / "candidates_good.csv")
    report = import_consents(engine, consent_file(tmp_path, "ATS-2,granted,2025-06-01,,", row))
    line, _, text = only_rejection(report)
    assert line == 3 and reason in text
    assert report.imported == 1


def test_consent_events_of_an_erased_candidate_are_refused(engine: sa.Engine, tmp_path: Path) -> None:
    import_candidates(engine, DATA / "candidates_good.csv")
    with engine.begin() as conn:
        conn.execute(sa.update(Candidate).where(Candidate.external_id == "ATS-1")
                     .values(erased_at=datetime(2026, 1, 1, tzinfo=UTC)))
    report = import_consents(engine, consent_file(tmp_path, "ATS-2,granted,2025-06-01,,",
                                                  "ATS-1,granted,2025-06-01,,"))
    line, ats_id, text = only_rejection(report)
    assert (line, ats_id) == (3, "ATS-1") and "candidate was erased" in text
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Consent)).scalar_one() == 1


runner = CliRunner()


def test_cli_exits_0_when_every_row_is_imported(settings: object) -> None:
    result = runner.invoke(app, ["import", "candidates", str(DATA / "candidates_good.csv")])
    assert result.exit_code == 0, result.output
    assert "4 candidates imported" in result.output


def test_cli_exits_1_and_lists_rejected_lines_without_pii(settings: object, tmp_path: Path) -> None:
    bad = GOOD.format(n=7).replace("active", "hired")
    result = runner.invoke(app, ["import", "candidates", str(write(tmp_path, HEADER, bad))])
    assert result.exit_code == 1
    assert "ATS-7" in result.output and "hired" in result.output
    assert "person7@example.org" not in result.output and "Léa" not in result.output


def test_cli_exits_2_when_the_file_cannot_be_read(settings: object, tmp_path: Path) -> None:
    result = runner.invoke(app, ["import", "candidates", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2
    latin = tmp_path / "latin.csv"
    latin.write_bytes((HEADER + "\n" + GOOD.format(n=1) + "\n").encode("latin-1"))
    result = runner.invoke(app, ["import", "consents", str(latin)])
    assert result.exit_code == 2


def test_cli_help_teaches_by_example() -> None:
    result = runner.invoke(app, ["import", "candidates", "--help"])
    assert result.exit_code == 0 and "vivier import candidates" in result.output


def test_a_repeated_column_is_refused(engine: sa.Engine, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + ",email", GOOD.format(n=1) + ",other@example.org")
    with pytest.raises(ImportFileError, match="column\\(s\\) email twice"):
        import_candidates(engine, path)


def test_a_timezone_column_is_an_iana_zone_or_the_row_is_rejected_by_line(
        engine: sa.Engine, tmp_path: Path) -> None:
    header = "external_id,email,first_name,last_name,locale,status,timezone"
    report = import_candidates(engine, write(
        tmp_path, header,
        "TZ-1,tz1@example.org,Léa,Roy,fr-CA,active,america/toronto",
        "TZ-2,tz2@example.org,Tom,Hale,en,active,",
        "TZ-3,tz3@example.org,Ana,Lima,en,active,Mars/Olympus",
        "TZ-4,tz4@example.org,Bo,Chen,en,active,EST5EDT;rm"))
    assert report.imported == 2 and [rejection.line for rejection in report.rejected] == [4, 5]
    assert "timezone 'Mars/Olympus' is not an IANA time zone: use e.g. America/Toronto" in \
        report.rejected[0].reason
    assert stored(engine, "TZ-1").timezone == "America/Toronto"  # as IANA spells it
    assert stored(engine, "TZ-2").timezone is None  # then where they search decides
