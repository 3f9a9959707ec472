"""The preference actions (no web): what each writes, and that a choice is recorded once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests import builders
from tests.web.conftest import rows
from vivier import preferences
from vivier.preferences import Change, ChoiceRefused, Choices, Evidence, UnknownCandidate
from vivier.rules.identity import email_hash
from vivier.store.schema import Candidate, Consent, Interaction, Preference, Suppression

pytestmark = pytest.mark.both_dialects  # consent and suppression upserts, racing writers

AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def evidence(source: str = "preference_centre") -> Evidence:
    return Evidence(source=source, token_id="0123456789abcdef", user_agent="Mozilla/5.0 (test)", at=AT)


def kinds(engine: sa.Engine, candidate_id: int) -> list[str]:
    return [row.kind for row in rows(engine, Interaction, candidate_id=candidate_id)]


def email_of(engine: sa.Engine, candidate_id: int) -> str:
    with engine.connect() as conn:
        return conn.scalar(sa.select(Candidate.email).where(Candidate.id == candidate_id))


def test_changing_frequency_writes_the_preference_and_an_interaction(engine) -> None:
    cid = builders.candidate(engine, status="active")
    changes = preferences.change_frequency(engine, cid, "monthly", evidence())
    assert changes == [Change("frequency", "weekly", "monthly")]
    (row,) = rows(engine, Preference, candidate_id=cid)
    assert (row.frequency, row.source) == ("monthly", "preference_centre")
    (event,) = rows(engine, Interaction, candidate_id=cid)
    assert event.kind == "preference_changed"
    assert event.details == {"field": "frequency", "from": "weekly", "to": "monthly",
                                         "source": "preference_centre", "token_id": "0123456789abcdef"}


def test_a_choice_already_in_force_records_nothing(engine) -> None:
    cid = builders.candidate(engine, frequency="quarterly")
    assert preferences.apply_choices(engine, cid, Choices("quarterly", False, True), evidence()) == []
    assert kinds(engine, cid) == []
    assert len(rows(engine, Consent, candidate_id=cid)) == 1  # the builder's


def test_joining_the_privileged_pool_needs_consent_and_a_refusal_writes_nothing(engine) -> None:
    cid = builders.candidate(engine, consent=None)
    with pytest.raises(ChoiceRefused, match="privileged pool"):
        preferences.apply_choices(engine, cid, Choices(frequency="monthly", privileged=True), evidence())
    assert rows(engine, Preference, candidate_id=cid) == [] and kinds(engine, cid) == []
    changes = preferences.apply_choices(engine, cid, Choices(privileged=True, consent=True), evidence())
    assert [c.what for c in changes] == ["consent", "privileged"]


def test_withdrawing_consent_keeps_evidence_and_leaves_the_privileged_pool(engine) -> None:
    cid = builders.candidate(engine)
    preferences.set_privileged(engine, cid, True, evidence())
    changes = preferences.withdraw_consent(engine, cid, evidence())
    assert changes == [Change("consent", "granted", "withdrawn"), Change("privileged", True, False)]
    latest = rows(engine, Consent, candidate_id=cid)[-1]
    assert (latest.state, latest.source) == ("withdrawn", "preference_centre")
    assert latest.evidence == {"at": AT.isoformat(), "token_id": "0123456789abcdef",
                               "user_agent": "Mozilla/5.0 (test)"}
    assert kinds(engine, cid) == ["preference_changed", "consent_withdrawn", "preference_changed"]


def test_a_no_from_someone_who_never_decided_is_recorded_as_denied(engine) -> None:
    cid = builders.candidate(engine, consent=None)
    assert preferences.withdraw_consent(engine, cid, evidence()) == [Change("consent", None, "denied")]
    assert preferences.withdraw_consent(engine, cid, evidence()) == []
    assert kinds(engine, cid) == ["consent_denied"]


def test_unsubscribe_suppresses_withdraws_and_is_recorded_once(engine) -> None:
    cid = builders.candidate(engine)
    first = preferences.unsubscribe(engine, cid, evidence("one_click"))
    again = preferences.unsubscribe(engine, cid, evidence("one_click"))
    assert first == [Change("consent", "granted", "withdrawn"), Change("unsubscribed", False, True)]
    assert again == []
    (suppression,) = rows(engine, Suppression)
    assert suppression.email_hash == email_hash(email_of(engine, cid))
    assert (suppression.reason, suppression.source) == ("unsubscribe", "one_click")
    assert kinds(engine, cid) == ["consent_withdrawn", "unsubscribed"]
    assert rows(engine, Consent, candidate_id=cid)[-1].source == "one_click"


def test_a_fresh_yes_lifts_their_own_unsubscribe_but_never_a_bounce(engine) -> None:
    unsubscribed, bounced = builders.candidate(engine), builders.candidate(engine, consent="withdrawn")
    preferences.unsubscribe(engine, unsubscribed, evidence("one_click"))
    with engine.begin() as conn:
        conn.execute(sa.insert(Suppression), {"email_hash": email_hash(email_of(engine, bounced)),
                                              "reason": "hard_bounce", "source": "smtp", "created_at": AT})
    assert preferences.grant_consent(engine, unsubscribed, evidence()) == [
        Change("consent", "withdrawn", "granted"), Change("unsubscribed", True, False)]
    assert preferences.grant_consent(engine, bounced, evidence()) == [
        Change("consent", "withdrawn", "granted")]
    assert [row.reason for row in rows(engine, Suppression)] == ["hard_bounce"]
    assert kinds(engine, unsubscribed)[-2:] == ["consent_granted", "resubscribed"]
    assert preferences.read_state(engine, bounced).keeps_in_touch is False


def test_an_erased_candidate_cannot_be_changed_but_unsubscribing_them_is_harmless(engine) -> None:
    cid = builders.candidate(engine, erased_at=AT, email=None)
    with pytest.raises(UnknownCandidate, match=f"no candidate {cid}"):
        preferences.read_state(engine, cid)
    with pytest.raises(UnknownCandidate):
        preferences.change_frequency(engine, cid, "monthly", evidence())
    assert preferences.unsubscribe(engine, cid, evidence("one_click")) == []
    assert kinds(engine, cid) == []


def test_racing_submits_of_the_same_choice_record_one_change(engine) -> None:
    cid = builders.candidate(engine, status="active")
    start, results, errors = threading.Barrier(4), [], []

    def submit() -> None:
        start.wait()
        try:
            results.append(preferences.apply_choices(
                engine, cid, Choices(frequency="quarterly", privileged=True), evidence()))
        except Exception as problem:  # noqa: BLE001 - shown by the assertion below
            errors.append(problem)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(len(changes) for changes in results) == [0, 0, 0, 2]
    assert kinds(engine, cid) == ["preference_changed", "preference_changed"]
