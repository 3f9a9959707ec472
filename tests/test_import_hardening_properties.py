"""Any bytes into any `vivier import` verb: exit 0, 1 or 2, no traceback, no name or address printed.

Files are built from a header (right, wrong or missing), rows whose name and address columns
hold generated personal data, and tricky values elsewhere (quotes, separators, formulas,
control and invisible characters, calendar edges), with raw bytes spliced in at times. The
real CLI runs on them; a file refused (exit 2) must leave every table as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from typer.testing import CliRunner

from app.cli import app
from vivier.store.schema import Application, Candidate, Consent, Interaction, Suppression

runner = CliRunner()
SLOW_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
SHAPED_FILES = examples(max_examples=60, deadline=None, suppress_health_check=SLOW_OK)
RAW_BYTES = examples(max_examples=40, deadline=None, suppress_health_check=SLOW_OK)
# Personal data: non-ASCII names and addresses, so a report never quotes them (it quotes only
# short plain ASCII values); finding one of these in the output is a leak.
NAME_MARK, MAIL_MARK = "Zéphy", "@pii-ñ.example"
TRICKY = st.sampled_from([
    "", " ", '"', '""', ",", ";", "\t", "\r", "\n", "\r\n", "\x00", "\x85", "\u2028", "\u202e",
    "\u200b", "\ufeff", "=1+1", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "＝1", "-", "-5",
    "0001-01-01", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2025-02-30",
    "2025-01-01", "2025-06-01T10:00:00+02:00", "fr", "en-GB", "de", "active", "former",
    "granted", "withdrawn", "hired", "applied", "bounced", "opened", "hard", "<m@x>",
    "ATS-1", "ats-1", "A" * 65, "x" * 300, "{", '{"a": 1}', "null", "[]", "é", "☃",
])
SCHEMAS = {
    "candidates": (("external_id", "email", "first_name", "last_name", "locale", "status"),
                   ("city", "search_location", "expertise", "tags", "last_applied_at")),
    "consents": (("external_id", "state", "recorded_at"), ("source", "evidence")),
    "applications": (("external_id", "job", "applied_at"), ("outcome", "outcome_at")),
    "events": (("type", "message_id", "occurred_at"), ("id", "bounce_type", "url", "recipient")),
}
PERSONAL = {"email", "first_name", "last_name", "recipient"}
TABLES = (Candidate, Consent, Application, Interaction, Suppression)


@st.composite
def values(draw: st.DrawFn, column: str, index: int) -> str:
    """A field: generated personal data in personal columns, tricky text elsewhere."""
    if column in PERSONAL and draw(st.booleans()):
        word = draw(st.text("abcdéï", min_size=1, max_size=6))
        return f"{word}{index}{MAIL_MARK}" if column in {"email", "recipient"} else f"{NAME_MARK}{word}"
    parts = draw(st.lists(st.one_of(TRICKY, st.text(max_size=6)), max_size=3))
    return "".join(parts)


@st.composite
def import_file(draw: st.DrawFn, verb: str) -> tuple[str, bytes]:
    """(file name, bytes): CSV or JSON Lines, mostly well-shaped, sometimes broken."""
    required, optional = SCHEMAS[verb]
    columns = list(required) + draw(st.lists(st.sampled_from(optional), unique=True))
    if draw(st.integers(0, 9)) == 0:
        columns = draw(st.permutations(columns))[: draw(st.integers(0, len(columns)))]
    rows = [[draw(values(column, index)) for column in columns]
            for index in range(draw(st.integers(0, 6)))]
    jsonl = verb in {"events", "applications"} and draw(st.booleans())
    if jsonl:
        lines = [json.dumps(dict(zip(columns, row, strict=True))) for row in rows]
        text = "\n".join(lines)
    else:
        separator = draw(st.sampled_from([",", ",", ",", ";"]))
        text = "\n".join(separator.join(line) for line in [columns, *rows])
    data = text.encode("utf-8")
    if draw(st.integers(0, 4)) == 0:  # splice raw bytes somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=8)) + data[at:]
    return ("export.jsonl" if jsonl else "export.csv"), data


def table_counts(engine: sa.Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(conn.scalar(sa.select(sa.func.count()).select_from(model)) or 0
                     for model in TABLES)


def seed_known_candidates(tmp_path: Path) -> None:
    """A few candidates, so consents and applications sometimes find theirs."""
    path = tmp_path / "seed.csv"
    path.write_text("external_id,email,first_name,last_name,locale,status\n"
                    "ATS-1,one@example.org,Ann,Lee,fr,active\n"
                    "ats-2,two@example.org,Bo,Kim,en,former\n", encoding="utf-8")
    assert runner.invoke(app, ["import", "candidates", str(path)]).exit_code == 0


def check_any_file(verb: str, name: str, data: bytes, engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    before = table_counts(engine)
    result = runner.invoke(app, ["import", verb, str(path)], env={"COLUMNS": "200"})
    output = result.output
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.exception, output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    assert NAME_MARK not in output and MAIL_MARK not in output, output
    if result.exit_code == 2:
        assert table_counts(engine) == before, "a refused file stored something"


@pytest.mark.parametrize("verb", sorted(SCHEMAS))
def test_any_file_into_any_import_exits_cleanly_and_prints_no_personal_data(
    verb: str, settings: object, engine: sa.Engine, tmp_path: Path
) -> None:
    seed_known_candidates(tmp_path)

    @SHAPED_FILES
    @given(import_file(verb))
    def any_file(file: tuple[str, bytes]) -> None:
        check_any_file(verb, *file, engine, tmp_path)

    any_file()


@pytest.mark.parametrize("verb", sorted(SCHEMAS))
def test_any_bytes_into_any_import_exit_cleanly(
    verb: str, settings: object, engine: sa.Engine, tmp_path: Path
) -> None:
    @RAW_BYTES
    @given(st.binary(max_size=300), st.sampled_from(["export.csv", "export.jsonl"]))
    def any_bytes(data: bytes, name: str) -> None:
        check_any_file(verb, name, data, engine, tmp_path)

    any_bytes()
