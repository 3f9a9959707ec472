"""Candidates update their field and where they search on the preference page: validated against
the vocabulary, recorded with its source, and used by the next run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests import builders
from tests.web.conftest import LiveServer, form_token, rows
from vivier import preferences
from vivier.pipeline import extract
from vivier.preferences import ChoiceRefused, Choices, Evidence
from vivier.store.schema import Candidate, Interaction, Preference

AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
EVIDENCE = Evidence(source="preference_centre", token_id="0123456789abcdef", at=AT)


def test_the_page_offers_the_vocabulary_in_the_candidates_language(engine, live: LiveServer) -> None:
    english = builders.candidate(engine, locale="en", expertise="Paie", search_location="Canada")
    page = live.client.get(live.link(english, "preferences")).text
    assert '<option value="Paie" selected>Payroll</option>' in page
    assert '<option value="Canada" selected>Canada</option>' in page
    assert '<option value="United Kingdom">United Kingdom</option>' in page
    assert '<option value="Remote">Remote</option>' in page
    french = builders.candidate(engine, locale="fr", expertise="Paie", search_location="Ailleurs")
    page = live.client.get(live.link(french, "preferences")).text
    assert '<option value="Paie" selected>Paie</option>' in page
    assert '<option value="United Kingdom">Royaume-Uni</option>' in page
    assert '<option value="Remote">Télétravail</option>' in page
    assert '<option value="Ailleurs" selected>Ailleurs</option>' in page  # the ATS's, kept
    assert "7 jours avant les autres candidats" in page  # the pool's promise, exactly


def test_saving_a_new_field_and_place_records_them_with_their_source(engine, live: LiveServer) -> None:
    cid = builders.candidate(engine, locale="en", expertise="Data", search_location="Lyon")
    link = live.link(cid, "preferences")
    token = form_token(live.client.get(link).text)
    saved = live.client.post(link, data={"form_token": token, "consent": "yes",
                                         "expertise": "Paie", "search_location": "Canada"})
    assert saved.status_code == 200, saved.text
    assert "Your field: Payroll (before: Data)." in saved.text
    assert "Where you are looking: Canada (before: Lyon)." in saved.text
    (preference,) = rows(engine, Preference, candidate_id=cid)
    assert (preference.expertise, preference.search_location, preference.source) == (
        "Paie", "Canada", "preference_centre")
    events = [(e.kind, e.details["field"], e.details["from"], e.details["to"], e.details["source"])
              for e in rows(engine, Interaction, candidate_id=cid)]
    assert events == [("preference_changed", "expertise", "Data", "Paie", "preference_centre"),
                      ("preference_changed", "search_location", "Lyon", "Canada", "preference_centre")]
    (candidate,) = rows(engine, Candidate, id=cid)
    assert (candidate.expertise, candidate.search_location) == ("Data", "Lyon")  # the ATS's row
    with engine.connect() as conn:
        (read,) = extract.read_batch(conn, "weekly", 0, cid)  # what the next run reads
    assert (read["expertise"], read["search_location"]) == ("Paie", "Canada")


@pytest.mark.parametrize("field,value,words", [
    ("expertise", "Astrologie", "choose your field from the list"),
    ("search_location", "Atlantis", "choose where you are looking from the list"),
])
def test_a_value_outside_the_vocabulary_is_refused_and_nothing_is_saved(
    engine, live: LiveServer, field: str, value: str, words: str
) -> None:
    cid = builders.candidate(engine, locale="en")
    link = live.link(cid, "preferences")
    token = form_token(live.client.get(link).text)
    refused = live.client.post(link, data={"form_token": token, "consent": "yes",
                                           "frequency": "monthly", field: value})
    assert refused.status_code == 422 and words in refused.text
    assert value not in refused.text  # a value we refused is not echoed back
    assert rows(engine, Preference, candidate_id=cid) == []
    assert rows(engine, Interaction, candidate_id=cid) == []


def test_a_label_in_either_language_or_another_spelling_is_the_same_choice(engine) -> None:
    cid = builders.candidate(engine, expertise="Paie", search_location="Montreal")
    assert preferences.apply_choices(engine, cid, Choices(expertise="payroll",
                                                          search_location="Montréal"), EVIDENCE) == []
    changes = preferences.apply_choices(engine, cid, Choices(search_location="UK"), EVIDENCE)
    assert [(c.what, c.after) for c in changes] == [("search_location", "United Kingdom")]
    with pytest.raises(ChoiceRefused) as refused:
        preferences.apply_choices(engine, cid, Choices(expertise="Astrologie"), EVIDENCE)
    assert refused.value.choice == "expertise" and "Paie" in str(refused.value)


def test_erasure_forgets_the_chosen_field_and_place_and_the_owner(engine) -> None:
    from vivier.gdpr.anonymise import anonymise

    cid = builders.candidate(engine, owner_email="sarah@talents.example", owner_name="Sarah")
    preferences.apply_choices(engine, cid, Choices(expertise="Paie", search_location="Canada"),
                              EVIDENCE)
    with engine.begin() as conn:
        assert anonymise(conn, [cid], source="request") == [cid]
    (preference,) = rows(engine, Preference, candidate_id=cid)
    (candidate,) = rows(engine, Candidate, id=cid)
    assert (preference.expertise, preference.search_location) == (None, None)
    assert (candidate.owner_email, candidate.owner_name) == (None, None)
