"""Specifications of the lean render path: what it remembers, it remembers per what decides it."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import markupsafe
import pytest

from vivier.messages.catalog import Catalog
from vivier.messages.context import Period, render_context, select_items
from vivier.messages.rendering import Renderer, TemplateProblem, _tidy_text, sample_context
from vivier.messages.shown import Shown
from vivier.messages.template_env import escape_output
from vivier.messages.tokens import link_urls, read_token
from vivier.pipeline.render_check import RenderCheck
from vivier.settings import PROJECT_ROOT, Settings

TEMPLATES = PROJECT_ROOT / "templates"
WEEK = Period("weekly", "2026-W48", date(2026, 11, 23))


def settings() -> Settings:
    return Settings(secret_key="lean-render-".ljust(40, "k"),
                    public_base_url="https://talents.example")


def candidate(candidate_id: int = 7, **changes: Any) -> dict[str, Any]:
    row = {"id": candidate_id, "first_name": "Camille", "last_name": "Roy", "city": "Lyon",
           "expertise": "Data", "search_location": "France", "locale": "fr-FR", "timezone": None,
           "segment": None, "privileged": False, "email": "camille@example.org"}
    return {**row, **changes}


def catalog() -> Catalog:
    jobs = [{"id": n, "title": f"Data {n}", "company": "Acme", "location": location,
             "expertise": "Data", "url": f"https://jobs.example.org/{n}", "remote": None,
             "country": country, "languages": ["fr"]}
            for n, location, country in ((1, "Lyon", "FR"), (2, "Paris", "FR"), (3, "Toronto", "CA"))]
    tips = [{"id": 10 + n, "title": f"Conseil {n}", "summary": "", "url": "https://x.example",
             "tags": []} for n in range(2)]
    return Catalog(jobs_by_expertise={"data": jobs},
                   content_by_language={"fr": {"tips": tips, "articles": tips}})


def test_planning_chooses_what_the_message_shows_and_the_context_carries_the_same() -> None:
    shop = catalog()
    chosen = select_items(candidate(), shop, "weekly")
    context = render_context(candidate(), shop, settings(), WEEK, WEEK.start)
    assert [o["title"] for o in chosen.openings] == ["Data 1", "Data 2"]  # not Toronto
    assert chosen.openings == context["openings"] and chosen.content == context["content"]
    assert [t["id"] for t in chosen.content["tips"]] == [10]  # weekly shows one tip
    assert chosen.content["articles"] == []  # and no article
    assert not chosen.nothing_new


def test_what_a_candidate_was_shown_is_left_out_though_a_neighbour_was_not() -> None:
    shop = catalog()
    assert len(select_items(candidate(1), shop, "weekly").openings) == 2
    seen = select_items(candidate(2), shop, "weekly", Shown(jobs=frozenset({1, 2}),
                                                           content=frozenset({10, 11})))
    assert seen.openings == [] and seen.content["tips"] == [] and seen.nothing_new
    assert len(select_items(candidate(3), shop, "weekly").openings) == 2  # unchanged for others


def test_a_change_to_one_context_reaches_no_other_message() -> None:
    shop = catalog()
    first = render_context(candidate(1), shop, settings(), WEEK, WEEK.start)
    first["openings"].clear()
    first["content"]["tips"].append({"id": 99})
    second = render_context(candidate(2), shop, settings(), WEEK, WEEK.start)
    assert len(second["openings"]) == 2 and [t["id"] for t in second["content"]["tips"]] == [10]


def test_the_two_links_are_signed_for_their_own_purpose() -> None:
    config = settings()
    unsubscribe, preferences = link_urls(config, 4321)
    assert unsubscribe.startswith("https://talents.example/u/")
    assert preferences.startswith("https://talents.example/p/")
    assert read_token(config, unsubscribe.rsplit("/", 1)[1], "unsubscribe") == 4321
    assert read_token(config, preferences.rsplit("/", 1)[1], "preferences") == 4321
    with pytest.raises(Exception, match="wrong_purpose"):
        read_token(config, unsubscribe.rsplit("/", 1)[1], "preferences")


@pytest.mark.parametrize("value", [
    "Camille <script>alert('x')</script> & \"co\"", "", "plain", 42, 3.5, None,
    markupsafe.Markup("<b>already safe</b>"),
])
def test_html_output_is_escaped_exactly_as_markupsafe_escapes_it(value: Any) -> None:
    assert escape_output(value) == str(markupsafe.escape(value))


def write_template(root: Path, body_html: str) -> Path:
    folder = root / "lean" / "en"
    folder.mkdir(parents=True)
    (folder / "subject.txt").write_text("Hi {{ candidate.first_name }}\n")
    (folder / "body.html").write_text(body_html)
    (folder / "body.txt").write_text("{{ candidate.first_name }} {{ candidate.search_location|place_in }}\n")
    return root


def test_a_value_is_escaped_once_and_a_captured_block_is_not_escaped_again(tmp_path: Path) -> None:
    body = ("<p>{{ candidate.first_name }}</p>{% set card %}<b>{{ candidate.first_name }}</b>"
            "{% endset %}{{ card }}{{ candidate.search_location|place_in }}\n")
    renderer = Renderer(write_template(tmp_path, body), inline_css="off")
    context = {"candidate": {"id": 5, "first_name": "A&B <i>", "search_location": "Canada"}}
    html = renderer.render("lean", "en", context).html
    assert html == ("<p>A&amp;B &lt;i&gt;</p><b>A&amp;B &lt;i&gt;</b>in Canada\n")


def test_a_remembered_word_still_fails_on_a_missing_value(tmp_path: Path) -> None:
    renderer = Renderer(write_template(tmp_path, "{{ candidate.city|place_in }}\n"),
                        inline_css="off")
    ok = {"candidate": {"id": 5, "first_name": "A", "search_location": "Canada", "city": "London"}}
    assert renderer.render("lean", "en", ok).html == "in London\n"
    assert renderer.render("lean", "en", ok).html == "in London\n"
    with pytest.raises(TemplateProblem, match="candidate 6") as problem:
        renderer.render("lean", "en", {"candidate": {"id": 6, "first_name": "B",
                                                     "search_location": "Canada"}})
    assert "city" in str(problem.value)


def test_the_same_date_is_written_in_each_readers_own_locale_and_zone() -> None:
    renderer = Renderer(TEMPLATES)
    british, american = sample_context(), sample_context()
    british.update(locale="en-GB", zone="Europe/London")
    american.update(locale="en-US", zone="America/Toronto")
    for _ in range(2):  # remembered per (date, zone, locale): each reader keeps theirs
        assert "23 November 2026" in renderer.render("weekly", "en-GB", british).html
        assert "November 23, 2026" in renderer.render("weekly", "en-US", american).html


@pytest.mark.parametrize("raw, tidy", [
    ("Hello\n", "Hello\n"),
    ("Hello", "Hello\n"),
    ("  Hello  \n\n", "Hello\n"),
    ("\nHello\n", "Hello\n"),
    ("Hello \r\nthere\r\n\n\n\nBye\t\n", "Hello\nthere\n\nBye\n"),
    ("Hello\u00a0\n", "Hello\n"),  # strip() takes every kind of space, as before
])
def test_the_text_part_is_tidied_the_same_with_or_without_a_copy(raw: str, tidy: str) -> None:
    assert _tidy_text(raw) == tidy


def test_the_render_check_needs_a_context_only_for_the_messages_it_renders() -> None:
    check = RenderCheck(Renderer(TEMPLATES), sample=1)
    assert check.renders("weekly", "fr")
    with pytest.raises(ValueError, match="give its context"):
        check.check("weekly", "fr", None, candidate_id=1)
    assert check.check("weekly", "fr", sample_context()).rendered is not None
    assert not check.renders("weekly", "fr")
    assert check.check("weekly", "fr", None, candidate_id=2).rendered is None


def test_a_broken_template_names_the_candidate_whose_context_was_not_built(tmp_path: Path) -> None:
    renderer = Renderer(write_template(tmp_path, "{{ candidate.missing }}\n"), inline_css="off")
    check = RenderCheck(renderer, sample=1)
    with pytest.raises(TemplateProblem):
        check.check("lean", "en", {"candidate": {"id": 1, "first_name": "A",
                                                 "search_location": "Canada"}})
    with pytest.raises(TemplateProblem, match="candidate 2.*all failed"):
        check.check("lean", "en", None, candidate_id=2)


def test_attributes_read_dict_keys_in_place_and_everything_else_through_the_sandbox(
    tmp_path: Path,
) -> None:
    body = ("{{ candidate.first_name }} {{ period.start.year }} {{ candidate.items|length }}"
            " {{ pair.0 }}\n")
    renderer = Renderer(write_template(tmp_path, body), inline_css="off")
    context = {"candidate": {"id": 5, "first_name": "A", "search_location": "Canada",
                             "items": [1, 2]},
               "period": {"start": date(2026, 11, 23)}, "pair": ("x", "y")}
    assert renderer.render("lean", "en", context).html == "A 2026 2 x\n"
    (tmp_path / "lean" / "en" / "body.html").write_text("{{ period.start.__class__ }}\n")
    with pytest.raises(TemplateProblem, match="__class__"):
        Renderer(tmp_path, inline_css="off").render("lean", "en", context)
    (tmp_path / "lean" / "en" / "body.html").write_text("{{ candidate.nickname }}\n")
    with pytest.raises(TemplateProblem, match="nickname"):
        Renderer(tmp_path, inline_css="off").render("lean", "en", context)
