"""`vivier gdpr erase`, and what an erased person's re-import by the ATS can and cannot do."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests import builders
from tests.gdpr.cli import app
from tests.gdpr.scan import traces
from vivier.imports.candidates import import_candidates
from vivier.imports.consents import import_consents
from vivier.rules.cadences import today_in
from vivier.store.schema import Candidate, Decision, Interaction, Send

runner = CliRunner()
HEADER = "external_id,email,first_name,last_name,locale,status,city"
ROW = "ATS-77,zeph.quasimodo@example.org,Zéphyrine,Quasimodo,fr,active,Grenoble"


def csv(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ids_by_ats(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(Candidate.external_id, Candidate.id)).all())


def test_erase_asks_first_then_anonymises_and_says_so_without_pii(engine, settings) -> None:
    candidate_id = builders.candidate(engine, external_id="ATS-E1", email="e1@example.org",
                                      first_name="Zéphyrine", last_name="Quasimodo")
    twin = builders.candidate(engine, email="E1@example.org")  # same person, second ATS record

    declined = runner.invoke(app, ["gdpr", "erase", "ATS-E1"], input="n\n")
    assert declined.exit_code == 1 and traces(engine, ["Quasimodo"])
    done = runner.invoke(app, ["gdpr", "erase", "ATS-E1", "--yes"])
    again = runner.invoke(app, ["gdpr", "erase", str(candidate_id), "--yes"])

    assert done.exit_code == 0, done.output
    assert f"candidate {candidate_id} anonymised" in done.output
    assert f"candidate(s) {twin} share that address" in done.output
    assert "e1@example.org" not in done.output.lower() and "Quasimodo" not in done.output
    assert again.exit_code == 0 and "already anonymised" in again.output
    assert traces(engine, ["Zéphyrine", "Quasimodo"]) == []


@pytest.mark.usefixtures("prefect_harness")
def test_an_erased_person_reexported_by_the_ats_is_never_messaged_again(engine, settings, tmp_path) -> None:
    from flows.nurture import nurture

    first_export = csv(tmp_path, "ats.csv", HEADER, ROW)
    consents = csv(tmp_path, "consents.csv", "external_id,state,recorded_at",
                   "ATS-77,granted,2025-01-01", "ATS-78,granted,2025-01-01")
    assert import_candidates(engine, first_export).imported == 1
    import_consents(engine, consents)
    assert runner.invoke(app, ["gdpr", "erase", "ATS-77", "--yes"]).exit_code == 0

    again = import_candidates(engine, first_export)  # the same CSV row, unchanged
    assert (again.imported, again.updated) == (0, 0)
    assert "candidate was erased" in again.rejected[0].reason
    new_id = import_candidates(engine, csv(tmp_path, "ats2.csv", HEADER, ROW.replace("ATS-77", "ATS-78")))
    assert (new_id.imported, new_id.updated) == (0, 0)  # under another ATS id: refused, nothing stored
    assert "this person asked to be erased on" in new_id.rejected[0].reason
    import_consents(engine, consents)
    summary = nurture(cadence="weekly", as_of=today_in(settings.zone))

    assert len(mailbox.Maildir(settings.maildir_path, create=True)) == 0
    assert summary["stages"].get("sent", 0) == 0
    ids = ids_by_ats(engine)
    with engine.connect() as conn:
        decisions = dict(conn.execute(sa.select(Decision.candidate_id, Decision.reason)).all())
        sends = conn.scalar(sa.select(sa.func.count()).select_from(Send))
        erased_events = conn.scalars(sa.select(Interaction.candidate_id)
                                     .where(Interaction.kind == "erased")).all()
    assert decisions == {} and "ATS-78" not in ids  # nobody to decide about: nothing was stored
    assert sends == 0 and erased_events == [ids["ATS-77"]]
    assert traces(engine, ["Zéphyrine", "Quasimodo"]) == []
