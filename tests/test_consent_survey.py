"""The consent-survey flow: undecided candidates asked once, reminded once, consents renewed in time."""

from __future__ import annotations

import email.policy
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.consent_survey import consent_survey
from tests import builders
from vivier import preferences
from vivier.rules.cadences import today_in
from vivier.settings import Settings
from vivier.store.schema import Candidate, Decision, Send

pytestmark = pytest.mark.usefixtures("prefect_harness")
NOW = datetime.now(UTC)


def inbox(settings: Settings) -> list[tuple[str, str]]:
    """(recipient, subject) of every message the maildir transport wrote, in order."""
    found = []
    for path in sorted((Path(settings.maildir_path) / "new").glob("*"), key=lambda p: p.stat().st_mtime):
        message = message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found.append((message["To"].addresses[0].addr_spec, str(message["Subject"])))
    return found


def address(engine: sa.Engine, candidate_id: int) -> str:
    with engine.connect() as conn:
        return conn.scalar(sa.select(Candidate.email).where(Candidate.id == candidate_id))


def days_pass(engine: sa.Engine, days: int) -> None:
    """Move what we sent into the past, as if `days` had gone by."""
    with engine.begin() as conn:
        for send in conn.execute(sa.select(Send.id, Send.created_at, Send.sent_at)).all():
            conn.execute(sa.update(Send).where(Send.id == send.id).values(
                created_at=send.created_at - timedelta(days=days),
                sent_at=send.sent_at and send.sent_at - timedelta(days=days)))
        for person in conn.execute(sa.select(Candidate.id, Candidate.last_contacted_at)).all():
            if person.last_contacted_at:
                conn.execute(sa.update(Candidate).where(Candidate.id == person.id).values(
                    last_contacted_at=person.last_contacted_at - timedelta(days=days)))


def survey_decisions(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(Decision.candidate_id, Decision.reason)
                                 .where(Decision.cadence == "consent_survey")).all())


def test_only_undecided_candidates_are_asked_and_a_rerun_asks_nobody_twice(engine, settings) -> None:
    undecided = builders.candidate(engine, consent=None)
    english = builders.candidate(engine, consent=None, locale="en", first_name="James")
    others = [builders.candidate(engine, consent=state) for state in ("granted", "withdrawn", "denied")]
    suppressed = builders.candidate(engine, consent=None, suppressed=True)
    pool_none = builders.candidate(engine, consent=None, frequency="none")
    builders.candidate(engine, consent=None, email=None, erased_at=NOW)

    first = consent_survey(as_of=today_in(settings.zone))
    sent_first = len(inbox(settings))

    assert first["consent_survey"]["stages"]["sent"] == 2
    surveys = [(to, subject) for to, subject in inbox(settings) if "privil" in subject]
    assert sorted(to for to, _ in surveys) == sorted([address(engine, undecided), address(engine, english)])
    assert ("James, would you like to join our privileged talent pool?"
            in [subject for _, subject in surveys])
    assert survey_decisions(engine) == {suppressed: "suppressed", pool_none: "pool_none"}
    assert not set(others) & {cid for cid, _ in survey_decisions(engine).items()}

    again = consent_survey(as_of=today_in(settings.zone))
    assert again["consent_survey"]["stages"].get("sent", 0) == 0
    assert again["consent_survey"]["reasons"]["already_sent"] == 2
    assert len(inbox(settings)) == sent_first


def test_one_reminder_after_the_reminder_days_then_nothing_more(engine, settings) -> None:
    silent = builders.candidate(engine, consent=None)
    answers = builders.candidate(engine, consent=None)
    today = today_in(settings.zone)
    consent_survey(as_of=today)
    too_soon = consent_survey(as_of=today)
    assert too_soon["consent_survey_reminder"]["stages"].get("sent", 0) == 0

    days_pass(engine, settings.survey_reminder_days + 1)
    preferences.grant_consent(engine, answers, preferences.Evidence("preference_centre"))
    reminded = consent_survey(as_of=today)
    assert reminded["consent_survey_reminder"]["stages"]["sent"] == 1

    days_pass(engine, 40)
    next_month = consent_survey(as_of=today + timedelta(days=31))
    assert all(run["stages"].get("sent", 0) == 0 for run in next_month.values())
    received = Counter(to for to, _ in inbox(settings))
    assert received == {address(engine, silent): 2, address(engine, answers): 1}
    subjects = [subject for to, subject in inbox(settings) if to == address(engine, silent)]
    assert subjects[1].startswith("Petit rappel")


def test_consenting_candidates_are_asked_to_renew_before_the_retention_limit(engine, settings) -> None:
    old_friend = builders.candidate(engine, consent=None, locale="en", created_at=NOW - timedelta(days=1100))
    builders.consent_event(engine, old_friend, "granted", NOW - timedelta(days=715))
    recent = builders.candidate(engine, consent=None, created_at=NOW - timedelta(days=1100))
    builders.consent_event(engine, recent, "granted", NOW - timedelta(days=30))
    today = today_in(settings.zone)

    first = consent_survey(as_of=today)
    assert first["consent_renewal"]["stages"]["sent"] == 1
    assert inbox(settings)[-1] == (address(engine, old_friend), "Léa, shall we keep in touch?")
    assert consent_survey(as_of=today)["consent_renewal"]["reasons"] == {"already_sent": 1}

    preferences.grant_consent(engine, old_friend, preferences.Evidence("preference_centre"))
    later = consent_survey(as_of=today + timedelta(days=31))
    assert later["consent_renewal"]["stages"].get("extracted", 0) == 0
    assert len(inbox(settings)) == 1
