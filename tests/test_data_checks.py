"""The data checks that gate a cadence run: each check, the findings, the quality gate."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from data_checks import candidates
from data_checks.runner import (
    BatchFindings,
    CandidateValidator,
    DataCheckBroken,
    QualityGateFailed,
    QualityTally,
    quality_gate,
    validate_candidates,
)
from vivier.settings import Settings

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
LONG_EMAIL = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 59 + ".fr"  # 255 chars


@pytest.fixture(scope="module")
def validator() -> CandidateValidator:
    return CandidateValidator()


def candidate(candidate_id: int, **fields: Any) -> dict[str, Any]:
    """A clean candidate row as the extract query returns it, with `fields` changed."""
    row: dict[str, Any] = {
        "id": candidate_id,
        "external_id": f"ats-{candidate_id}",
        "email": f"candidate{candidate_id}@example.fr",
        "first_name": "Élodie",
        "last_name": "Martin-Dupont",
        "locale": "fr",
        "status": "active",
        "city": "Lyon",
        "search_location": "Auvergne-Rhône-Alpes",
        "expertise": "data engineering",
        "last_applied_at": NOW - timedelta(days=30),
        "last_contacted_at": None,
        "created_at": NOW - timedelta(days=400),
        "duplicate_of": None,
    }
    row.update(fields)
    return row


def batch(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def test_the_candidates_module_has_the_shape_of_every_data_check_module() -> None:
    assert candidates.DATASET == "candidates"
    assert candidates.DESCRIPTION
    assert Settings.model_fields["quality_threshold"].default == candidates.THRESHOLD
    names = {name for name, _ in candidates.expectations(NOW)}
    assert names == {
        "email_syntax",
        "first_name_required",
        "last_name_required",
        "names_clean",
        "locale_supported",
        "status_known",
        "email_unique",
        "dates_not_in_future",
        "field_lengths",
    }


def test_importing_the_checks_leaves_great_expectations_unimported() -> None:
    """GX takes seconds to import: a run, the CLI and test collection pay it only to validate."""
    code = ("import sys, data_checks, vivier.pipeline.plan, vivier.imports.candidates; "
            "print('great_expectations' in sys.modules)")
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "False"


def test_a_clean_batch_passes_every_check(validator: CandidateValidator) -> None:
    clean = batch(
        candidate(1),
        candidate(2, locale="en", status="passive", email="Jean.Paul+talents@sub.example.co.uk"),
        candidate(3, locale="fr-CA", status="former", last_applied_at=None, created_at=None),
        candidate(4, locale="fr_FR", first_name="A" * 100, last_name="B" * 100),
        candidate(5, locale="EN-gb", email=LONG_EMAIL[1:], city="C" * 200),
        candidate(6, last_contacted_at=NOW + timedelta(minutes=5), expertise=None, city=None),
    )
    findings = validator.validate(clean, NOW)
    assert findings == BatchFindings(checked=6, failures={}, by_check={})


BAD_VALUES: dict[str, list[dict[str, Any]]] = {
    "email_syntax": [
        {"email": None},
        {"email": ""},
        {"email": "not-an-email"},
        {"email": "two@@example.fr"},
        {"email": "no-domain-dot@example"},
        {"email": "has space@example.fr"},
        {"email": "trailing-newline@example.fr\n"},
        {"email": "header@example.fr\r\nBcc: everyone@example.fr"},
        {"email": "double..dot@example.fr"},
        {"email": "a" * 65 + "@example.fr"},  # local part over 64
        {"email": "nel\x85@example.fr"},
    ],
    "first_name_required": [{"first_name": None}, {"first_name": ""}, {"first_name": "   "}],
    "last_name_required": [{"last_name": None}, {"last_name": ""}, {"last_name": "  "}],
    "names_clean": [
        {"first_name": "Jean\nPaul"},
        {"last_name": "Martin\r"},
        {"first_name": "Jean\tPaul"},
        {"last_name": "Mar\x00tin"},
        {"first_name": "Jean\x85Paul"},  # NEL, a C1 control
        {"last_name": "Martin\u2028"},  # line separator
    ],
    "locale_supported": [
        {"locale": "de"},
        {"locale": ""},
        {"locale": None},
        {"locale": "french"},
        {"locale": "fr\n"},
        {"locale": "es-FR"},
    ],
    "status_known": [{"status": "hired"}, {"status": ""}, {"status": None}, {"status": "Active"}],
    "email_unique": [{"duplicate_of": 1}],
    "dates_not_in_future": [
        {"last_applied_at": NOW + timedelta(minutes=6)},
        {"last_contacted_at": NOW + timedelta(days=1)},
        {"created_at": NOW + timedelta(days=365)},
    ],
    "field_lengths": [
        {"email": LONG_EMAIL},
        {"first_name": "A" * 101},
        {"last_name": "B" * 101},
        {"city": "C" * 201},
        {"search_location": "S" * 201},
        {"expertise": "E" * 201},
        {"locale": "fr-Latn-CA-abcdefgh"},  # a well-formed locale wider than its column
    ],
}


@pytest.mark.parametrize("check", sorted(BAD_VALUES))
def test_each_check_quarantines_exactly_the_candidates_that_fail_it(
    validator: CandidateValidator, check: str
) -> None:
    bad = {100 + n: fields for n, fields in enumerate(BAD_VALUES[check])}
    rows = [candidate(1), *(candidate(i, **fields) for i, fields in bad.items()), candidate(2)]
    findings = validator.validate(batch(*rows), NOW)
    assert findings.checked == len(rows)
    assert findings.failures == {i: [check] for i in bad}
    assert findings.by_check == {check: len(bad)}


def test_missing_optional_values_pass_and_missing_required_values_fail(
    validator: CandidateValidator,
) -> None:
    nothing = dict.fromkeys(candidates.COLUMNS)
    sparse = batch(
        candidate(1, city=None, search_location=None, expertise=None, external_id=None),
        candidate(2, last_applied_at=None, last_contacted_at=None, created_at=None),
        {**nothing, "id": 3},
    )
    findings = validator.validate(sparse, NOW)
    assert findings.failures == {
        3: [
            "email_syntax",
            "first_name_required",
            "last_name_required",
            "locale_supported",
            "status_known",
        ]
    }


def test_a_candidate_failing_two_checks_lists_both(validator: CandidateValidator) -> None:
    findings = validator.validate(
        batch(candidate(1), candidate(7, email=None, duplicate_of=1)), NOW
    )
    assert findings.failures == {7: ["email_syntax", "email_unique"]}
    assert findings.by_check == {"email_syntax": 1, "email_unique": 1}
    assert findings.failing_rows == 1


def test_a_check_failing_on_two_columns_counts_the_candidate_once(
    validator: CandidateValidator,
) -> None:
    row = candidate(8, first_name="A\nB", last_name="C\rD", city="x" * 300, expertise="y" * 300)
    findings = validator.validate(batch(row), NOW)
    assert findings.failures == {8: ["names_clean", "field_lengths"]}
    assert findings.by_check == {"names_clean": 1, "field_lengths": 1}


def test_the_validator_is_reused_across_batches_without_carrying_results_over(
    validator: CandidateValidator,
) -> None:
    first = batch(candidate(1, email="bad"), candidate(2, status="hired"), candidate(3))
    second = batch(*(candidate(i) for i in range(10, 30)), candidate(30, locale="de"))
    assert validator.validate(first, NOW).failures == {1: ["email_syntax"], 2: ["status_known"]}
    again = validator.validate(second, NOW)
    assert again == BatchFindings(21, {30: ["locale_supported"]}, {"locale_supported": 1})
    assert validator.validate(batch(candidate(40)), NOW).failures == {}
    assert validator.validate(first, NOW).failures == {1: ["email_syntax"], 2: ["status_known"]}


def test_dates_are_judged_against_the_now_of_each_call(validator: CandidateValidator) -> None:
    tomorrow = batch(candidate(1, created_at=NOW + timedelta(days=1)))
    assert validator.validate(tomorrow, NOW).failures == {1: ["dates_not_in_future"]}
    assert validator.validate(tomorrow, NOW + timedelta(days=2)).failures == {}


def test_a_list_of_rows_and_an_empty_batch_are_accepted(validator: CandidateValidator) -> None:
    assert validator.validate([candidate(1), candidate(2, email="x")], NOW).failures == {
        2: ["email_syntax"]
    }
    assert validator.validate([], NOW) == BatchFindings(checked=0, failures={}, by_check={})


def test_a_batch_without_a_column_names_the_column_the_extract_must_select(
    validator: CandidateValidator,
) -> None:
    rows = batch(candidate(1)).drop(columns=["duplicate_of"])
    with pytest.raises(ValueError, match="lacks column.* duplicate_of"):
        validator.validate(rows, NOW)


def test_a_naive_now_is_refused(validator: CandidateValidator) -> None:
    with pytest.raises(ValueError, match="naive"):
        validator.validate(batch(candidate(1)), NOW.replace(tzinfo=None))


def test_validation_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    fresh = CandidateValidator()
    fresh.validate(batch(candidate(1), candidate(2, email=None)), NOW)
    validate_candidates(batch(candidate(3, locale="de")), NOW)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_batches_validated_from_several_threads_each_get_their_own_findings(
    validator: CandidateValidator,
) -> None:
    results: dict[int, BatchFindings] = {}

    def validate(worker: int) -> None:
        base = worker * 100
        rows = [candidate(base + i) for i in range(20)] + [candidate(base + 99, status="x")]
        results[worker] = validator.validate(batch(*rows), NOW)

    threads = [threading.Thread(target=validate, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in range(4):
        assert results[worker].failures == {worker * 100 + 99: ["status_known"]}


def test_the_gate_lets_a_run_through_at_the_threshold() -> None:
    quality_gate(checked=1_000, by_check={"email_syntax": 50}, failing_rows=50, threshold=0.05)
    quality_gate(checked=0, by_check={}, failing_rows=0, threshold=0.0)


def test_the_gate_fails_the_run_above_the_threshold_naming_checks_and_counts() -> None:
    by_check = {"first_name_required": 172, "email_syntax": 640}
    with pytest.raises(QualityGateFailed) as failed:
        quality_gate(checked=10_000, by_check=by_check, failing_rows=812, threshold=0.05)
    assert str(failed.value) == (
        "data quality gate: 812 of 10,000 candidates (8.1%) failed checks, above the 5.0% "
        "threshold: email_syntax 640, first_name_required 172. Nothing was sent. Fix the "
        "upstream data (see decisions for ids) or raise VIVIER_QUALITY_THRESHOLD."
    )
    with pytest.raises(QualityGateFailed, match="51 of 1,000"):
        quality_gate(checked=1_000, by_check={"email_syntax": 51}, failing_rows=51, threshold=0.05)


def test_the_gate_message_never_shows_an_email_or_a_name(validator: CandidateValidator) -> None:
    rows = [
        candidate(1, email="jeanne.secret@example.fr", first_name="Jeanne", last_name="Secret"),
        candidate(2, email="broken@", first_name="Zoé", last_name="Cachée"),
        candidate(3, email="jeanne.secret@example.fr", first_name="\n", duplicate_of=1),
    ]
    tally = QualityTally()
    tally.add(validator.validate(batch(*rows), NOW))
    with pytest.raises(QualityGateFailed) as failed:
        tally.gate(threshold=0.05)
    message = str(failed.value)
    assert "2 of 3 candidates" in message
    for secret in ("jeanne", "secret", "broken", "Zoé", "Cachée", "example.fr"):
        assert secret.lower() not in message.lower()


def test_a_tally_sums_the_batches_of_a_run() -> None:
    tally = QualityTally()
    tally.add(BatchFindings(1_000, {1: ["email_syntax"]}, {"email_syntax": 1}))
    tally.add(
        BatchFindings(
            500, {7: ["email_syntax", "status_known"]}, {"email_syntax": 1, "status_known": 1}
        )
    )
    assert (tally.checked, tally.failing_rows) == (1_500, 2)
    assert tally.by_check == {"email_syntax": 2, "status_known": 1}
    tally.gate(threshold=0.0014)
    with pytest.raises(QualityGateFailed, match=r"2 of 1,500 candidates \(0.1%\)"):
        tally.gate(threshold=0.001)


def test_a_batch_with_text_in_a_date_column_says_which_column(
    validator: CandidateValidator,
) -> None:
    with pytest.raises(ValueError, match="column created_at holds values that are not dates"):
        validator.validate(batch(candidate(1, created_at="last spring")), NOW)


def test_a_check_that_cannot_run_stops_the_batch_instead_of_passing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import great_expectations as gx  # here, not at collection: it takes seconds to import

    ghost = gx.expectations.ExpectColumnValuesToNotBeNull(column="ghost")
    monkeypatch.setattr(candidates, "expectations", lambda now: [("ghost_check", ghost)])
    with pytest.raises(DataCheckBroken, match="'ghost_check' could not run on column 'ghost'"):
        CandidateValidator().validate(batch(candidate(1)), NOW)
