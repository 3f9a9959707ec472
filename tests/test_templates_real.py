"""`vivier templates check` on real candidates: what only real data breaks is found, by candidate
id, never by the data itself; people the data checks quarantine are left out."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from tests import builders
from tests.test_templates_check import replace
from vivier.messages.rendering import TEMPLATES_DIR
from vivier.settings import get_settings

runner = CliRunner()
LONG_FIELD = "Ingénierie des données et des plateformes analytiques distribuées à grande échelle"


@pytest.fixture
def templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped templates, used by the check (VIVIER_TEMPLATES_DIR)."""
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, copy)
    monkeypatch.setenv("VIVIER_TEMPLATES_DIR", str(copy))
    get_settings.cache_clear()
    return copy


def check(*options: str) -> tuple[int, str]:
    done = runner.invoke(app, ["templates", "check", *options], terminal_width=250)
    return done.exit_code, " ".join(done.output.split())


def test_what_only_real_data_breaks_is_found_and_named_by_candidate_id(engine, settings, templates) -> None:
    # The fixture's city is Lyon and its expertise short: only real people trip these.
    replace(templates / "weekly/en/body.txt", "{% block content %}",
            "{% block content %}{% if candidate.city == 'Nantes' %}{{ nope }}{% endif %}")
    replace(templates / "monthly/fr/subject.txt", "{{ candidate.first_name }},",
            "{{ candidate.first_name }}, {{ candidate.expertise }} :")
    nantes = builders.candidate(engine, city="Nantes", first_name="Maëlle")
    long_field = builders.candidate(engine, status="passive", expertise=LONG_FIELD)
    builders.candidate(engine)  # Lyon, short expertise: fine

    code, output = check()
    assert code == 1
    assert "weekly/en: UndefinedError" in output
    assert f"'nope' is undefined (real candidates {nantes})" in output
    assert "weekly/fr" not in output  # the French text has no such branch
    assert "monthly/fr: subject over 78 characters" in output and f"(real candidates {long_field})" in output
    assert LONG_FIELD not in output and "Nantes" not in output and "Maëlle" not in output
    assert check("--sample", "0")[0] == 0  # the fixture contexts alone pass


def test_people_the_data_checks_quarantine_are_left_out(engine, settings, templates) -> None:
    replace(templates / "weekly/fr/body.txt", "{% block content %}",
            "{% block content %}{% if candidate.city == 'Nantes' %}{{ nope }}{% endif %}")
    builders.candidate(engine, city="Nantes", email="not an address")
    code, output = check()
    assert code == 0, output
    assert "0 real candidates, 0 renders: no problem (1 more left out: their data fails the checks" in output


def test_without_a_database_only_the_fixtures_are_checked(settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("VIVIER_DATABASE_URL", f"sqlite:///{tmp_path}/none.db")
    get_settings.cache_clear()
    code, output = check()
    assert code == 0, output
    assert "no database: real candidates not checked" in output and "renders: no problem" in output
    assert not (tmp_path / "none.db").exists()  # a check never creates the database
