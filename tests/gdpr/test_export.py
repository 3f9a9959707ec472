"""Access and portability: every row held about one person, as JSON, and nothing about anyone else."""

from __future__ import annotations

import json
import stat

import sqlalchemy as sa
from typer.testing import CliRunner

from tests import builders
from tests.gdpr.cli import app
from tests.gdpr.history import person_with_history
from vivier.gdpr import CandidateNotFound, find_candidate, person_tables
from vivier.gdpr.export import export_person, to_json
from vivier.rules.identity import email_hash
from vivier.store.schema import Candidate, Suppression

runner = CliRunner()


def test_the_export_holds_every_tables_rows_for_the_person_and_nothing_about_others(engine) -> None:
    person = person_with_history(engine, "Zéphyrine", "Quasimodo", "zq@example.org")
    other = person_with_history(engine, "Barnabé", "Outremer", "bo@example.net")
    with engine.connect() as conn:
        held = export_person(conn, person.id)
        other_ats = conn.scalar(sa.select(Candidate.external_id).where(Candidate.id == other.id))
        for table, column in person_tables():
            if table.name == "candidates":
                continue
            expected = conn.scalar(sa.select(sa.func.count()).select_from(table).where(column == person.id))
            assert len(held[table.name]) == expected > 0, table.name
            assert {row[column.name] for row in held[table.name]} == {person.id}
    text = to_json(held)
    assert json.loads(text) == held
    assert (held["profile"]["email"], held["profile"]["first_name"]) == (person.email, "Zéphyrine")
    assert "Zéphyrine Quasimodo" in text  # readable: accents kept, not \u-escaped
    for trace in (*other.identifiers, other_ats):
        assert trace not in text
    assert [event["state"] for event in held["consents"]] == ["granted", "withdrawn", "granted"]
    assert held["consents"][0]["evidence"]["ip"] == "203.0.113.7"  # the proof, as recorded
    assert held["sends"][0]["template_version"] == "abc123"
    assert held["preferences"][0]["frequency"] == "monthly"
    assert {row["kind"] for row in held["interactions"]} == {"message_sent", "opened", "replied", "clicked"}
    assert held["decisions"][0]["reason"] == "render_error"
    assert held["suppression"] == {"email_hash": email_hash(person.email), "suppressed": False}


def test_the_export_says_whether_the_address_is_suppressed(engine) -> None:
    candidate_id = builders.candidate(engine, suppressed=True, email="Gone@Example.org ")
    with engine.connect() as conn:
        status = export_person(conn, candidate_id)["suppression"]
        since = conn.scalar(sa.select(Suppression.created_at))
    assert status == {"email_hash": email_hash("gone@example.org"), "suppressed": True,
                      "reason": "unsubscribe", "source": "test", "since": since.isoformat()}


def test_export_on_the_command_line_writes_a_private_file_or_stdout(engine, settings, tmp_path) -> None:
    person = person_with_history(engine, "Zéphyrine", "Quasimodo", "zq@example.org")
    with engine.connect() as conn:
        ats_id = conn.scalar(sa.select(Candidate.external_id).where(Candidate.id == person.id))
    target = tmp_path / "request.json"
    written = runner.invoke(app, ["gdpr", "export", ats_id, "-o", str(target)])
    assert written.exit_code == 0, written.output
    assert json.loads(target.read_text(encoding="utf-8"))["candidate_id"] == person.id
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    printed = runner.invoke(app, ["gdpr", "export", f"id:{person.id}"])
    assert json.loads(printed.stdout)["profile"]["external_id"] == ats_id


def test_a_reference_that_is_both_an_internal_and_an_ats_id_must_be_made_explicit(engine, settings) -> None:
    first = builders.candidate(engine)
    second = builders.candidate(engine, external_id=str(first))
    with engine.connect() as conn:
        try:
            find_candidate(conn, str(first))
        except CandidateNotFound as problem:
            assert f"id:{first} or ats:{first}" in str(problem)
        else:
            raise AssertionError("an ambiguous reference was accepted")
        assert find_candidate(conn, f"id:{first}") == first
        assert find_candidate(conn, f"ats:{first}") == second
    refused = runner.invoke(app, ["gdpr", "export", str(first)])
    assert refused.exit_code == 2 and "say which" in refused.output
