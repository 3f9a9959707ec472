"""`vivier templates check`: the shipped templates pass; each kind of broken template is caught."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from vivier.messages.checks import check_templates
from vivier.messages.rendering import TEMPLATES_DIR, Renderer, available_templates, sample_context
from vivier.settings import get_settings

runner = CliRunner()


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A copy of the shipped templates, to break one file at a time."""
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, copy)
    return copy


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems(folder: Path) -> list[str]:
    return [str(finding) for finding in check_templates(folder).findings]


def test_the_shipped_templates_pass_the_check_on_the_command_line(settings) -> None:
    done = runner.invoke(app, ["templates", "check"])
    assert done.exit_code == 0, done.output
    assert "no problem" in done.output


def test_a_broken_copy_fails_on_the_command_line_naming_template_and_locale(
        settings, broken, monkeypatch) -> None:
    replace(broken / "weekly/fr/body.html", "{{ tip.title }}", "{{ tip.titel }}")
    monkeypatch.setenv("VIVIER_TEMPLATES_DIR", str(broken))
    get_settings.cache_clear()
    done = runner.invoke(app, ["templates", "check"])
    assert done.exit_code == 1
    assert "weekly/fr:" in done.output and "titel" in done.output


BREAKAGES = {
    "undefined variable": (
        lambda t: replace(t / "monthly/en/body.txt", "{% block content %}", "{% block content %}{{ nope }}"),
        r"monthly/en: .*'nope' is undefined"),
    "missing locale": (lambda t: shutil.rmtree(t / "quarterly/fr"), r"quarterly/fr: missing locale"),
    "missing text part": (lambda t: (t / "weekly/en/body.txt").unlink(), r"weekly/en: missing body.txt"),
    "empty text part": (
        lambda t: (t / "weekly/en/body.txt").write_text("{% if false %}x{% endif %}"),
        r"weekly/en: empty text part"),
    "http link": (
        lambda t: replace(t / "weekly/fr/body.html", '<a href="{{ tip.url }}">',
                          '<a href="http://talents.example/tips">'),
        r"weekly/fr: link without https:// : http://talents.example/tips"),
    "http link in text": (
        lambda t: replace(t / "weekly/fr/body.txt", "{{ tip.url }}", "http://talents.example/tips"),
        r"weekly/fr: link without https://"),
    "long subject": (
        lambda t: (t / "monthly/fr/subject.txt").write_text("Les nouvelles du mois " + "et encore " * 8),
        r"monthly/fr: subject over 78 characters"),
    "empty subject": (
        lambda t: (t / "monthly/en/subject.txt").write_text("  \n"), r"monthly/en: empty subject"),
    "all-caps subject": (
        lambda t: (t / "quarterly/en/subject.txt").write_text("NEWS FROM THE TEAM"),
        r"quarterly/en: all-caps subject"),
    "exclamation marks": (
        lambda t: replace(t / "weekly/en/body.txt", "{% block content %}", "{% block content %}Act now!!!"),
        r"weekly/en: '!!!'"),
    "image-only html": (
        lambda t: (t / "weekly/en/body.html").write_text(
            '{% extends "_layout/en/layout.html" %}{% block content %}'
            '<img src="https://talents.example/banner.png" alt="">{% endblock %}'),
        r"weekly/en: image-only HTML"),
    "remote image": (
        lambda t: replace(t / "weekly/en/body.html", "{% block content %}",
                          '{% block content %}<img src="https://talents.example/logo.png" alt="">'),
        r"weekly/en: remote image"),
}


@pytest.mark.parametrize("kind", sorted(BREAKAGES))
def test_each_kind_of_problem_is_caught(broken, kind) -> None:
    breakage, expected = BREAKAGES[kind]
    assert problems(broken) == []
    breakage(broken)
    found = problems(broken)
    assert any(re.search(expected, problem) for problem in found), found


def test_the_opening_card_partials_render_exactly_as_the_copies_they_replaced(tmp_path) -> None:
    inline = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, inline)
    include = re.compile(r'\{% include "(_partials/[^"]+)" %\}\n')
    expanded = 0
    for body in inline.glob("*/*/body.*"):
        text = body.read_text(encoding="utf-8")
        text, count = include.subn(lambda m: (inline / m.group(1)).read_text(encoding="utf-8"), text)
        body.write_text(text, encoding="utf-8")
        expanded += count
    assert expanded >= 12  # weekly, weekly-hr-canada, quarterly × fr, en × html, txt
    shipped, copied = Renderer(TEMPLATES_DIR), Renderer(inline)
    for empty in (False, True):
        context = sample_context(TEMPLATES_DIR, empty=empty)
        for name in available_templates(TEMPLATES_DIR):
            for language in ("fr", "en"):
                one, other = shipped.render(name, language, context), copied.render(name, language, context)
                assert (one.subject, one.html, one.text) == (other.subject, other.html, other.text)
    assert 'style="' in shipped.render("weekly", "fr", sample_context()).html.split('class="item"')[1][:200]
