"""Render once: planning renders a sample of each template and language, delivery renders every
message; a broken template still stops the run before anything leaves, and one candidate's
render error fails only that send and quarantines that candidate."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import builders
from vivier.messages.rendering import Renderer, TemplateProblem
from vivier.pipeline.render_check import SAMPLE_PER_TEMPLATE, RenderCheck
from vivier.pipeline.resources import Resources, using
from vivier.pipeline.run import run_period
from vivier.rules.cadences import today_in
from vivier.settings import load_settings
from vivier.store.schema import Decision, Send

TRAP = "{% if candidate.city == 'Trap' %}{{ no_such_variable }}{% endif %}"


@pytest.fixture
def trapped_templates(tmp_path: Path) -> Path:
    """The shipped templates, with the French weekly subject failing for candidates in 'Trap'."""
    templates = tmp_path / "templates"
    shutil.copytree(load_settings().templates_dir, templates)
    subject = templates / "weekly" / "fr" / "subject.txt"
    subject.write_text(TRAP + subject.read_text(encoding="utf-8"), encoding="utf-8")
    return templates


def own_resources(db_url: str, tmp_path: Path, templates: Path) -> Resources:
    return Resources.build(load_settings(
        database_url=db_url, transport="none", samples_dir=tmp_path / "samples", batch_size=1000,
        secret_key="test-secret-key-of-at-least-32-bytes", templates_dir=templates,
        **builders.ALWAYS_OPEN))


def outcomes(engine: sa.Engine) -> tuple[dict[int, str], dict[int, str]]:
    with engine.connect() as conn:
        ledger = dict(conn.execute(sa.select(Send.candidate_id, Send.status)).all())
        decided = dict(conn.execute(sa.select(Decision.candidate_id, Decision.reason)).all())
    return ledger, decided


@pytest.mark.usefixtures("catalog")  # something new to send
def test_a_broken_template_stops_the_run_before_any_message_leaves(
        engine, db_url, tmp_path, trapped_templates) -> None:
    everyone = [builders.candidate(engine, city="Trap") for _ in range(SAMPLE_PER_TEMPLATE + 3)]
    resources = own_resources(db_url, tmp_path, trapped_templates)
    with using(resources), pytest.raises(RuntimeError, match="every candidate failed to render"):
        run_period(resources, "weekly", today_in(resources.settings.zone))
    ledger, decided = outcomes(engine)
    assert resources.transport.count == 0  # type: ignore[attr-defined]
    assert ledger == {}  # the plan was withdrawn
    assert decided == dict.fromkeys(everyone, "render_error")  # past the sample too
    with engine.connect() as conn:
        beyond = conn.scalar(sa.select(Decision.detail).where(Decision.candidate_id == everyone[-1]))
    assert f"the first {SAMPLE_PER_TEMPLATE} messages of this template" in beyond
    assert "no_such_variable" in beyond and "'weekly'" in beyond


@pytest.mark.both_dialects  # the window's record is one statement per table on PostgreSQL
@pytest.mark.usefixtures("catalog")  # something new to send
def test_one_candidates_render_error_in_delivery_fails_only_that_send_and_is_quarantined(
        engine, db_url, tmp_path, trapped_templates) -> None:
    fine = [builders.candidate(engine) for _ in range(SAMPLE_PER_TEMPLATE + 1)]
    trapped = builders.candidate(engine, city="Trap")  # past the plan's sample: planned
    resources = own_resources(db_url, tmp_path, trapped_templates)
    with using(resources):
        summary = run_period(resources, "weekly", today_in(resources.settings.zone))
    ledger, decided = outcomes(engine)
    assert summary.outcome == "completed"
    assert ledger == {**dict.fromkeys(fine, "sent"), trapped: "failed"}
    assert decided == {trapped: "render_error"}
    assert resources.transport.count == len(fine)  # type: ignore[attr-defined]
    assert summary.tally.stages["failed"] == 1 and summary.tally.reasons["render_error"] == 1
    assert [row[:2] for row in summary.tally.quarantined] == [(trapped, "render_error")]
    with engine.connect() as conn:
        error = conn.scalar(sa.select(Send.error).where(Send.candidate_id == trapped))
    assert "no_such_variable" in error and f"candidate {trapped}" in error  # by id, no address


@pytest.mark.usefixtures("catalog")  # something new to send
def test_a_dry_run_renders_everyone(engine, db_url, tmp_path, trapped_templates) -> None:
    fine = [builders.candidate(engine) for _ in range(SAMPLE_PER_TEMPLATE + 1)]
    trapped = builders.candidate(engine, city="Trap")
    resources = own_resources(db_url, tmp_path, trapped_templates)
    with using(resources):
        summary = run_period(resources, "weekly", today_in(resources.settings.zone), dry_run=True)
    assert summary.tally.stages["planned"] == len(fine)
    assert outcomes(engine) == ({}, {trapped: "render_error"})


class CountingRenderer(Renderer):
    """The real renderer, counting its renders."""

    renders = 0

    def render(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.renders += 1
        return super().render(*args, **kwargs)


def test_planning_renders_a_sample_of_each_template_and_language(tmp_path) -> None:
    renderer = CountingRenderer(load_settings().templates_dir)
    from vivier.messages.rendering import sample_context

    context = sample_context()
    check = RenderCheck(renderer)
    for locale in ("fr", "en"):
        checked = [check.check("weekly", locale, context) for _ in range(SAMPLE_PER_TEMPLATE + 10)]
        assert all(one.template_version == renderer.version("weekly", locale) for one in checked)
        assert [one.rendered is not None for one in checked].count(True) == SAMPLE_PER_TEMPLATE
    assert renderer.renders == 2 * SAMPLE_PER_TEMPLATE
    everyone = RenderCheck(renderer, everyone=True)
    assert all(everyone.check("weekly", "fr", context).rendered for _ in range(8))
    with pytest.raises(TemplateProblem, match="no such template"):
        check.check("no-such-template", "fr", context)
