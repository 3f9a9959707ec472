"""Specifications of message rendering: templates, locales, escaping, errors, CSS, versions."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from vivier.messages.rendering import (
    PARTS,
    Renderer,
    TemplateProblem,
    available_templates,
    language_of,
    sample_context,
)
from vivier.settings import PROJECT_ROOT

TEMPLATES = PROJECT_ROOT / "templates"
LOCALES = ("fr", "en")
SHIPPED = sorted(available_templates(TEMPLATES))


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(TEMPLATES)


@pytest.fixture
def templates_copy(tmp_path: Path) -> Path:
    """A scratch copy of the shipped templates that a test may break."""
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES, copy, ignore=shutil.ignore_patterns("web"))
    return copy


def context_for(first_name: str = "Camille", candidate_id: int = 42, **changes: Any) -> dict:
    context = sample_context()
    context["candidate"].update(id=candidate_id, first_name=first_name)
    context.update(changes)
    return context


def test_the_cadences_and_the_canada_segment_are_shipped() -> None:
    assert {"weekly", "monthly", "quarterly", "weekly-hr-canada"} <= set(SHIPPED)
    assert "_layout" not in SHIPPED and "web" not in SHIPPED


@pytest.mark.parametrize("template", SHIPPED)
def test_every_template_folder_has_the_same_files_for_every_locale(template: str) -> None:
    for locale in LOCALES:
        for part in PARTS:
            assert (TEMPLATES / template / locale / part).is_file(), f"{template}/{locale}/{part}"
        for layout in ("layout.html", "layout.txt"):
            assert (TEMPLATES / "_layout" / locale / layout).is_file()


def test_the_shipped_templates_pass_the_check(renderer: Renderer) -> None:
    renderer.check()


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", SHIPPED)
def test_every_template_renders_a_full_message(
    renderer: Renderer, template: str, locale: str
) -> None:
    context = sample_context()
    message = renderer.render(template, locale, context)
    assert message.locale == locale and message.template == template
    assert "Camille" in message.subject and "\n" not in message.subject
    for part in (message.html, message.text):
        assert context["links"]["unsubscribe"] in part
        assert context["links"]["preferences"] in part
        assert context["recruiter"]["name"] in part
    assert message.html.startswith("<!DOCTYPE html>") and f'lang="{locale}"' in message.html


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", SHIPPED)
def test_empty_lists_give_a_sentence_not_an_empty_section(
    renderer: Renderer, template: str, locale: str
) -> None:
    message = renderer.render(template, locale, sample_context(empty=True))
    assert 'class="item"' not in message.html
    assert "<h2" not in message.html or template == "weekly-hr-canada"
    body = message.text.split("--\n")[0]
    assert "\n* " not in body
    assert len(body.split("\n\n")) >= 4  # greeting, a sentence about the empty week, signature


@pytest.mark.parametrize("template", SHIPPED)
def test_the_text_part_carries_every_link_of_the_html_part(
    renderer: Renderer, template: str
) -> None:
    message = renderer.render(template, "fr", sample_context())
    hrefs = re.findall(r'href="(?!mailto:)([^"]+)"', message.html)
    assert hrefs
    for href in hrefs:
        assert href.replace("&amp;", "&") in message.text


def test_the_subject_is_one_line_whatever_the_name_contains(renderer: Renderer) -> None:
    message = renderer.render("weekly", "en", context_for("Ana\r\n\tBcc: someone@example.com"))
    assert "\n" not in message.subject and "\r" not in message.subject
    assert message.subject.startswith("Ana Bcc: someone@example.com, ")


def test_markup_in_a_first_name_is_escaped_in_html_and_kept_as_is_in_text(
    renderer: Renderer,
) -> None:
    name = "<script>alert(1)</script>"
    message = renderer.render("weekly", "fr", context_for(name))
    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
    assert f"Bonjour {name}," in message.text
    assert message.text.rstrip().endswith(sample_context()["links"]["unsubscribe"])


def test_a_missing_variable_names_the_template_and_the_candidate(renderer: Renderer) -> None:
    context = context_for(candidate_id=4242)
    del context["recruiter"]
    with pytest.raises(TemplateProblem) as caught:
        renderer.render("quarterly", "fr", context)
    problem = caught.value
    assert (problem.template, problem.locale, problem.candidate_id) == ("quarterly", "fr", 4242)
    assert "quarterly" in str(problem) and "candidate 4242" in str(problem)
    assert "recruiter" in str(problem) and "_layout/fr/layout" in str(problem)


def test_a_wrongly_typed_value_is_a_template_problem_not_a_crash(renderer: Renderer) -> None:
    context = context_for(period={"cadence": "weekly", "key": "2026-W48", "start": "2026-11-23"})
    with pytest.raises(TemplateProblem, match="candidate 42.*date"):
        renderer.render("weekly", "en", context)


def test_the_sandbox_blocks_python_internals(templates_copy: Path) -> None:
    (templates_copy / "weekly" / "en" / "subject.txt").write_text("{{ ''.__class__.__mro__ }}")
    with pytest.raises(TemplateProblem, match="unsafe") as caught:
        Renderer(templates_copy).render("weekly", "en", context_for())
    assert caught.value.candidate_id == 42


def test_check_reports_every_syntax_error_with_its_file(templates_copy: Path) -> None:
    (templates_copy / "monthly" / "fr" / "body.html").write_text(
        '{% extends "_layout/fr/layout.html" %}\n{% block content %}{% if %}{% endblock %}\n'
    )
    (templates_copy / "quarterly" / "en" / "body.txt").write_text("{{ candidate.first_name \n")
    with pytest.raises(TemplateProblem) as caught:
        Renderer(templates_copy).check()
    report = str(caught.value)
    assert "monthly/fr/body.html:2" in report
    assert "quarterly/en/body.txt:1" in report
    assert "2 template problem(s)" in report


def test_check_reports_a_missing_file_and_a_missing_fallback(templates_copy: Path) -> None:
    (templates_copy / "weekly" / "fr" / "body.txt").unlink()
    shutil.rmtree(templates_copy / "weekly-hr-canada" / "en")
    with pytest.raises(TemplateProblem) as caught:
        Renderer(templates_copy).check()
    assert "weekly/fr: missing body.txt" in str(caught.value)
    assert "weekly-hr-canada: no fallback folder weekly-hr-canada/en/" in str(caught.value)


def test_a_broken_template_fails_every_render_without_recompiling_each_time(
    templates_copy: Path,
) -> None:
    (templates_copy / "weekly" / "fr" / "subject.txt").write_text("{% if %}")
    renderer = Renderer(templates_copy)
    for candidate_id in (1, 2):
        with pytest.raises(TemplateProblem, match=f"candidate {candidate_id}.*subject.txt"):
            renderer.render("weekly", "fr", context_for(candidate_id=candidate_id))
    assert renderer.render("weekly", "en", context_for()).locale == "en"


def test_dates_are_written_in_the_candidates_language(renderer: Renderer) -> None:
    french = renderer.render("monthly", "fr", sample_context())
    english = renderer.render("monthly", "en", sample_context())
    assert "3 décembre 2026 à 18:30" in french.text  # 17:30 UTC shown in the team's zone
    assert "novembre 2026" in french.subject
    assert "December 3, 2026 at 6:30\u202fPM" in english.text  # CLDR: narrow no-break space
    assert "November 2026" in english.subject
    assert "23 novembre 2026" in renderer.render("weekly", "fr", sample_context()).html


@pytest.mark.parametrize(
    ("locale", "language"),
    [("fr-CA", "fr"), ("fr_CA", "fr"), ("FR", "fr"), ("en-GB", "en"), (" en ", "en"), ("", "")],
)
def test_the_language_is_the_first_part_of_a_locale(locale: str, language: str) -> None:
    assert language_of(locale) == language


def test_an_unknown_language_falls_back_to_the_fallback_locale(templates_copy: Path) -> None:
    assert Renderer(TEMPLATES).render("weekly", "de-DE", context_for()).locale == "en"
    assert Renderer(TEMPLATES, fallback_locale="fr").resolve("weekly", "pt") == ("weekly", "fr")
    assert Renderer(TEMPLATES).resolve("weekly", "fr_CA") == ("weekly", "fr")
    shutil.rmtree(templates_copy / "weekly-hr-canada" / "fr")
    message = Renderer(templates_copy).render("weekly-hr-canada", "fr", context_for())
    assert (message.locale, message.template) == ("en", "weekly-hr-canada")


def test_an_unknown_template_names_the_known_ones(renderer: Renderer) -> None:
    with pytest.raises(TemplateProblem, match="known: .*monthly.*weekly"):
        renderer.render("biweekly", "fr", context_for())


def test_the_version_follows_the_files_and_nothing_else(templates_copy: Path) -> None:
    before = Renderer(templates_copy)
    version = before.version("weekly", "fr")
    assert re.fullmatch(r"[0-9a-f]{12,}", version)
    assert Renderer(templates_copy).version("weekly", "fr-CA") == version
    assert before.version("weekly", "en") != version
    assert before.render("weekly", "fr", context_for()).template_version == version
    layout = templates_copy / "_layout" / "fr" / "layout.txt"
    layout.write_text(layout.read_text() + "\n")
    after = Renderer(templates_copy)
    assert after.version("weekly", "fr") != version
    assert after.version("weekly", "en") == before.version("weekly", "en")


def test_a_renderer_keeps_the_templates_it_compiled(templates_copy: Path) -> None:
    renderer = Renderer(templates_copy)
    first = renderer.render("weekly", "en", context_for())
    (templates_copy / "weekly" / "en" / "subject.txt").write_text("changed")
    assert renderer.render("weekly", "en", context_for()) == first


def test_css_is_inlined_for_mail_clients_and_no_asset_is_remote(renderer: Renderer) -> None:
    html = renderer.render("weekly", "en", sample_context()).html
    assert re.search(r'<p class="item-title" style="[^"]*font-weight: bold', html)
    assert re.search(r'<body style="[^"]*font-family', html)
    style_block = re.search(r"<style>(.*?)</style>", html, re.S)
    assert style_block and style_block.group(1).strip().startswith("@media")
    assert "<link" not in html and "<img" not in html and "url(" not in html


class _Styles(HTMLParser):
    """The (tag, style) of every element in the body, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs).get("style") or ""))


@pytest.mark.parametrize("template", SHIPPED)
def test_inlining_at_compile_time_styles_like_inlining_each_message(template: str) -> None:
    styles = []
    for mode in ("compile", "render"):
        parser = _Styles()
        parser.feed(Renderer(TEMPLATES, inline_css=mode).render(template, "fr", context_for()).html)
        styles.append(parser.found)
    assert styles[0] == styles[1]


def test_a_jinja_tag_inside_an_html_tag_is_refused_when_inlining_at_compile_time(
    templates_copy: Path,
) -> None:
    body = templates_copy / "weekly" / "en" / "body.html"
    body.write_text(body.read_text().replace('<div class="note">', '<div {{ "" }} class="note">'))
    with pytest.raises(TemplateProblem, match="moved Jinja tags.*weekly/en/body.html"):
        Renderer(templates_copy).render("weekly", "en", context_for())
    assert (
        "<div"
        in Renderer(templates_copy, inline_css="render").render("weekly", "en", context_for()).html
    )
