"""Dates and times in messages are the reader's: their time zone, their regional language."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from vivier.messages.catalog import Catalog
from vivier.messages.context import Period, render_context
from vivier.messages.rendering import TEMPLATES_DIR, Renderer, sample_context
from vivier.settings import load_settings


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(TEMPLATES_DIR)


def reading(zone: str, locale: str) -> dict[str, Any]:
    """The sample context for a reader in `zone` with `locale`; its first event is a Paris fair at
    18:30 on 3 December (17:30 UTC)."""
    context = sample_context()
    context.update(zone=zone, locale=locale)
    return context


def test_an_event_is_shown_at_the_readers_hour_naming_their_zone_when_it_is_not_the_events(
        renderer: Renderer) -> None:
    toronto = renderer.render("monthly", "en-CA", reading("America/Toronto", "en-CA")).text
    assert "December 3, 2026 at 12:30\u202fp.m. (Eastern Standard Time)" in toronto
    montreal = renderer.render("monthly", "fr-CA", reading("America/Toronto", "fr-CA")).text
    assert "Le 3 décembre 2026 à 12 h 30 (heure normale de l’Est)" in montreal
    lyon = renderer.render("monthly", "fr", reading("Europe/Paris", "fr")).text
    assert "Le 3 décembre 2026 à 18:30\n" in lyon  # the event's own clock: no zone named


def test_an_event_late_in_paris_falls_on_the_readers_own_day() -> None:
    renderer = Renderer(TEMPLATES_DIR)
    context = reading("America/Vancouver", "en")
    context["content"]["events"][0]["event_at"] = context["content"]["events"][0]["event_at"].replace(
        day=4, hour=2)  # 03:00 in Paris on the 4th is 18:00 on the 3rd in Vancouver
    text = renderer.render("monthly", "en", context).text
    assert "December 3, 2026 at 6:30\u202fPM (Pacific Standard Time)" in text


def test_the_week_of_is_written_the_british_way_for_a_british_reader(renderer: Renderer) -> None:
    british = renderer.render("weekly", "en-GB", reading("Europe/London", "en-GB"))
    american = renderer.render("weekly", "en", reading("America/Toronto", "en"))
    assert "Week of 23 November 2026" in british.text
    assert "Week of November 23, 2026" in american.text


def test_the_render_context_carries_the_candidates_zone_and_locale() -> None:
    settings = load_settings(secret_key="test-secret-key-of-at-least-32-bytes")
    candidate = {"id": 7, "first_name": "Noé", "last_name": "B", "locale": "en-GB", "city": "Lyon",
                 "search_location": "London", "expertise": None, "timezone": None}
    context = render_context(candidate, Catalog(), settings, Period("weekly", "2026-W48",
                                                                    date(2026, 11, 23)), date(2026, 11, 23))
    assert (context["zone"], context["locale"]) == ("Europe/London", "en-GB")
    assert render_context({**candidate, "timezone": "Asia/Tokyo"}, Catalog(), settings,
                          Period("weekly", "2026-W48", date(2026, 11, 23)), date(2026, 11, 23))["zone"] \
        == "Asia/Tokyo"
