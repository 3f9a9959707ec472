"""One set of contact rules: the ATS import and the run's data checks give the same verdicts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.web.pages import LANGUAGES
from data_checks import candidates as candidate_checks
from data_checks import validate_candidates
from vivier.imports.candidates import candidate_row
from vivier.imports.fields import DEFAULT_ZONE
from vivier.imports.report import RowError
from vivier.rules.contact import (
    STATUSES,
    SUPPORTED_LANGUAGES,
    is_supported_locale,
    is_valid_email,
    language_of,
)
from vivier.store.schema import LOCALES
from vivier.store.schema import STATUSES as STORED_STATUSES

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
CLEAN = {"external_id": "ATS-1", "email": "lea.martin@example.fr", "first_name": "Léa",
         "last_name": "Martin", "locale": "fr", "status": "active"}
LOCAL_64 = "l" * 64
DOMAIN_189 = "d" * 63 + "." + "e" * 63 + "." + "f" * 58 + ".fr"  # 189 characters

# (column, value, accepted): the verdict both the import and the data checks must give.
TRICKY: list[tuple[str, str, bool]] = [
    ("email", "lea.martin@example.fr", True),
    ("email", "trailing-newline@example.fr\n", False),
    ("email", "jérôme.lefèvre@exemple.fr", True),
    ("email", "zoé@exämple.fr", True),
    ("email", "nel\x85@example.fr", False),
    ("email", "c1\x80@example.fr", False),
    ("email", "a\u2028b@example.fr", False),
    ("email", LOCAL_64 + "@example.fr", True),
    ("email", LOCAL_64 + "l@example.fr", False),  # local part of 65
    ("email", LOCAL_64 + "@" + DOMAIN_189, True),  # 254 characters
    ("email", LOCAL_64 + "@" + DOMAIN_189 + "r", False),  # 255 characters
    ("email", "two@@example.fr", False),
    ("email", "zero\u200bwidth@example.fr", False),  # invisible: nobody could type it back
    ("email", "bom\ufeff@example.fr", False),
    ("email", "lea@exam\u00adple.fr", False),  # soft hyphen
    ("email", "rlo\u202e@example.fr", False),
    ("locale", "fr", True),
    ("locale", "FR", True),
    ("locale", "fr-CA", True),
    ("locale", "en_GB", True),
    ("locale", "en-us", True),
    ("locale", "fr-Latn-CA", True),  # language-script-region (BCP 47)
    ("locale", "en-150", True),  # English for Europe: a numeric region
    ("locale", "de", False),
    ("locale", "fr-", False),
    ("locale", "french", False),
    ("locale", "", False),
    ("locale", "fr\n", False),
    ("locale", "es-FR", False),
    ("locale", "fr-Latn-CA-abcdefgh", False),  # well-formed, wider than the column's 16
    ("first_name", "Jean\tPaul", False),
    ("first_name", "Jean\x85Paul", False),  # NEL, a C1 control
    ("first_name", "Jean\u2028Paul", False),  # line separator
    ("last_name", "Martin\u2029", False),  # paragraph separator
    ("last_name", "Mar\x00tin", False),
    ("first_name", "Zo\u200bé", True),  # zero-width space inside: not a control
    ("first_name", "\u200b", True),  # not whitespace to Python, so not an empty name
    ("first_name", "   ", False),
    ("last_name", "", False),
    ("first_name", "L" * 100, True),
    ("first_name", "L" * 101, False),
    ("first_name", "Ève-Marie", True),
    ("first_name", "Jean\u202eluaP", False),  # right-to-left override: shows another name
    ("last_name", "Mar\u2066tin", False),  # left-to-right isolate
]


def importer_accepts(column: str, value: str) -> bool:
    try:
        candidate_row({**CLEAN, column: value}, DEFAULT_ZONE, NOW)
    except RowError:
        return False
    return True


@pytest.fixture(scope="module")
def checks_accept() -> dict[int, bool]:
    """Each TRICKY value's verdict from the data checks: the whole table in one GX call."""
    rows: list[dict[str, Any]] = [
        {**dict.fromkeys(candidate_checks.COLUMNS), **CLEAN, "id": index, column: value}
        for index, (column, value, _) in enumerate(TRICKY)
    ]
    failures = validate_candidates(rows, NOW).failures
    return {index: index not in failures for index in range(len(TRICKY))}


@pytest.mark.parametrize(("index", "column", "value", "accepted"), [
    pytest.param(index, column, value, accepted, id=f"{column}={value[:24]!r}")
    for index, (column, value, accepted) in enumerate(TRICKY)
])
def test_the_import_and_the_data_checks_give_the_same_verdict(
    checks_accept: dict[int, bool], index: int, column: str, value: str, accepted: bool
) -> None:
    assert importer_accepts(column, value) == checks_accept[index] == accepted


@pytest.mark.parametrize(("locale", "language"), [
    ("fr", "fr"), ("FR", "fr"), ("fr-CA", "fr"), ("en_GB", "en"), ("en-150", "en"), (" de ", "de"),
    ("", ""), (None, ""),
])
def test_the_language_of_a_locale_is_its_first_subtag(locale: str | None, language: str) -> None:
    assert language_of(locale) == language


def test_a_supported_locale_is_one_of_the_supported_languages() -> None:
    for locale in ("fr", "FR", "fr-CA", "en_GB", "EN-gb", "en-150"):
        assert is_supported_locale(locale) and language_of(locale) in SUPPORTED_LANGUAGES
    assert not is_supported_locale("de") and not is_valid_email("")


def test_every_list_of_languages_and_statuses_is_the_contact_rules_list() -> None:
    assert LOCALES == LANGUAGES == SUPPORTED_LANGUAGES == ("fr", "en")
    assert STORED_STATUSES == STATUSES == ("active", "passive", "former")
