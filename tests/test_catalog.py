"""Openings offered to a candidate fit their expertise and where they search."""

from __future__ import annotations

from vivier.messages.catalog import Catalog, reachable


def job(title: str, location: str) -> dict:
    return {"title": title, "company": "Acme", "location": location, "expertise": "Data",
            "url": f"https://jobs.example.org/{title}"}


def test_openings_match_expertise_and_place_and_never_exceed_five() -> None:
    catalog = Catalog(jobs_by_expertise={"data": [
        job("lyon-1", "Lyon"), job("paris", "Paris"), job("remote", "Remote"),
        *(job(f"lyon-{n}", "Lyon") for n in range(2, 8))]})
    titles = [o["title"] for o in catalog.openings_for("Data", {"lyon"})]
    assert titles[:2] == ["lyon-1", "remote"]
    assert len(titles) == 5 and "paris" not in titles
    assert catalog.openings_for("Finance", {"lyon"}) == []


def test_a_country_search_covers_its_cities_and_a_city_search_covers_country_jobs() -> None:
    assert {"toronto", "montréal", "canada", "remote"} <= reachable({"Canada"})
    assert "canada" in reachable({"Toronto"})
    assert "paris" not in reachable({"Toronto"})


def test_content_comes_in_the_candidates_language_with_empty_lists_otherwise() -> None:
    catalog = Catalog(content_by_language={"fr": {"tips": [{"title": "Conseil"}]}})
    assert catalog.content_for("fr")["tips"][0]["title"] == "Conseil"
    assert catalog.content_for("en")["tips"] == []
