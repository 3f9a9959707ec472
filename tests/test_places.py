"""Labels and place phrases come from the vocabulary in the message's language, with prepositions."""

from __future__ import annotations

import pytest

from vivier.messages.catalog import Catalog, reachable
from vivier.messages.rendering import TEMPLATES_DIR, Renderer, sample_context
from vivier.rules import places, vocabulary


@pytest.mark.parametrize("value,french,english", [
    ("Canada", "au Canada", "in Canada"),
    ("France", "en France", "in France"),
    ("États-Unis", "aux États-Unis", "in the United States"),
    ("United Kingdom", "au Royaume-Uni", "in the United Kingdom"),
    ("Montréal", "à Montréal", "in Montréal"),
    ("Montreal", "à Montréal", "in Montréal"),
    ("London", "à Londres", "in London"),
    ("Remote", "en télétravail", "remote"),
    ("télétravail", "en télétravail", "remote"),
    ("Espagne", "en Espagne", "in Spain"),  # any country, by Babel's names
    ("Mexico", "au Mexique", "in Mexico"),
    ("Pays-Bas", "aux Pays-Bas", "in the Netherlands"),
])
def test_a_place_takes_its_preposition_in_each_language(value: str, french: str, english: str) -> None:
    assert places.phrase(value, "fr") == french
    assert places.phrase(value, "en") == english


def test_a_place_is_labelled_in_the_messages_language_and_unknown_ones_as_given() -> None:
    assert places.label("United Kingdom", "fr") == "Royaume-Uni"
    assert places.label("Royaume-Uni", "en") == "United Kingdom"
    assert places.label("Remote", "fr") == "Télétravail"
    assert places.label("Québec", "en") == "Quebec City"
    assert places.label("Trifouillis", "en") == "Trifouillis"
    assert places.phrase("Trifouillis", "fr") == "à Trifouillis"  # taken for a city


@pytest.mark.parametrize("value,french,english", [
    ("Paie", ("Paie", "en paie"), ("Payroll", "in payroll")),
    ("Data", ("Data", "dans la data"), ("Data", "in data")),
    ("Ressources humaines", ("Ressources humaines", "en ressources humaines"),
     ("Human resources", "in human resources")),
    ("payroll", ("Paie", "en paie"), ("Payroll", "in payroll")),  # its English label, any case
])
def test_a_field_has_a_label_and_a_phrase_per_language(value: str, french: tuple, english: tuple) -> None:
    assert (vocabulary.field_label(value, "fr"), vocabulary.field_phrase(value, "fr")) == french
    assert (vocabulary.field_label(value, "en"), vocabulary.field_phrase(value, "en")) == english


def test_ottawa_and_calgary_are_in_canada_for_matching() -> None:
    assert {"ottawa", "calgary", "montréal", "toronto", "remote"} <= reachable({"Canada"})
    assert "canada" in reachable({"Ottawa"}) and "calgary" not in reachable({"Ottawa"})
    assert {"edinburgh", "london"} <= reachable({"Royaume-Uni"})


def job(title: str, location: str, country: str | None = None) -> dict:
    return {"id": hash(title), "title": title, "company": "Acme", "location": location,
            "country": country, "url": f"https://jobs.example.org/{title}", "languages": ["en"]}


def test_a_country_search_finds_openings_in_cities_the_vocabulary_does_not_know() -> None:
    catalog = Catalog(jobs_by_expertise={"paie": [
        job("gatineau", "Gatineau", "Canada"), job("ottawa", "Ottawa", "Canada"),
        job("lyon", "Lyon", "France")]})
    assert [o["title"] for o in catalog.openings_for("Paie", {"canada"}, "en")] == ["gatineau", "ottawa"]
    # A search in one city is not a search in its whole country.
    assert [o["title"] for o in catalog.openings_for("Paie", {"toronto"}, "en")] == []


def render(language: str, **candidate: object) -> str:
    context = sample_context()
    context["candidate"].update(candidate)
    return Renderer(TEMPLATES_DIR).render("weekly", language, context).text


def test_an_english_message_shows_english_labels_and_grammatical_places() -> None:
    text = render("en", expertise="Paie", search_location="Canada")
    assert "your search in payroll, in Canada." in text
    assert "Paie" not in text and "autour" not in text and "around" not in text
    assert "Remote · United Kingdom" in text and "Montréal (hybrid)" in text


def test_a_french_message_shows_french_labels_and_prepositions() -> None:
    text = render("fr", expertise="Paie", search_location="Remote")
    assert "votre recherche en paie, en télétravail." in text
    assert "Télétravail · Royaume-Uni" in text and "Montréal (hybride)" in text
    assert "Remote" not in text and "United Kingdom" not in text
    assert "à votre recherche dans la data, au Canada." in render("fr", expertise="Data",
                                                               search_location="Canada")
