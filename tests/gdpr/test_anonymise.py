"""Erasure: nothing of the person left in any column of any table; the aggregate history kept."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.gdpr.history import person_with_history
from tests.gdpr.scan import scanned_tables, traces
from vivier.gdpr.anonymise import ERASED, Identifiers, anonymise, scrub_json, scrub_text
from vivier.gdpr.export import export_person
from vivier.rules.identity import email_hash
from vivier.store.schema import Candidate, Consent, Decision, Interaction, Send, Suppression

pytestmark = pytest.mark.both_dialects  # erasure's updates over every table, per dialect


def counts(engine: sa.Engine, candidate_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        return {model.__tablename__: conn.scalar(sa.select(sa.func.count()).select_from(model)
                                                 .where(model.candidate_id == candidate_id))
                for model in (Consent, Send, Interaction, Decision)}


def consent_history(engine: sa.Engine, candidate_id: int) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(
            sa.select(Consent.id, Consent.state, Consent.purpose, Consent.recorded_at)
            .where(Consent.candidate_id == candidate_id).order_by(Consent.id))]


def test_an_erased_person_leaves_no_email_or_name_in_any_column_of_any_table(engine) -> None:
    erased = person_with_history(engine, "Zéphyrine", "Quasimodo", "zeph.quasimodo@example.org")
    kept = person_with_history(engine, "Barnabé", "Outremer", "barnabe.outremer@example.net")
    assert traces(engine, erased.identifiers)  # the history really holds them everywhere
    before, history = counts(engine, erased.id), consent_history(engine, erased.id)
    kept_before = export_person_rows(engine, kept.id)

    with engine.begin() as conn:
        assert anonymise(conn, [erased.id], source="request") == [erased.id]

    assert traces(engine, [*erased.identifiers, "Zephyrine"]) == []
    assert {"candidates", "consents", "interactions", "sends", "decisions", "preferences",
            "suppressions", "runs"} <= scanned_tables(engine)
    assert export_person_rows(engine, kept.id) == kept_before  # nobody else touched
    assert traces(engine, kept.identifiers)
    after = counts(engine, erased.id)
    assert after == {**before, "interactions": before["interactions"] + 1}  # + the erasure itself
    assert consent_history(engine, erased.id) == history  # states and times never rewritten


def export_person_rows(engine: sa.Engine, candidate_id: int) -> dict:
    with engine.connect() as conn:
        held = export_person(conn, candidate_id)
    return {key: value for key, value in held.items() if key != "exported_at"}


def test_erasure_keeps_the_id_status_and_aggregate_history_for_the_report(engine) -> None:
    person = person_with_history(engine, "Zéphyrine", "Quasimodo", "zeph.quasimodo@example.org")
    with engine.begin() as conn:
        anonymise(conn, [person.id], source="retention", flow_run_id="run-42")
    assert traces(engine, ["203.0.113.7", "Mozilla/5.0", "2001:db8:85a3", "198.51.100.23",
                           "Thunderbird", "192.0.2.44"]) == []
    with engine.connect() as conn:
        profile = conn.execute(sa.select(Candidate.__table__).where(Candidate.id == person.id)).one()
        send = conn.execute(sa.select(Send.__table__).where(Send.candidate_id == person.id)).one()
        kinds = dict(conn.execute(sa.select(Interaction.kind, Interaction.details)
                                  .where(Interaction.candidate_id == person.id)).all())
        suppression = conn.execute(sa.select(Suppression.__table__).where(
            Suppression.email_hash == email_hash(person.email))).one()
        evidence = conn.scalars(sa.select(Consent.evidence).where(
            Consent.candidate_id == person.id).order_by(Consent.id)).all()
    assert (profile.id, profile.status, profile.erased_at is not None) == (person.id, "active", True)
    assert profile.external_id.startswith("T-")  # a re-import by ATS id is refused
    assert (profile.email, profile.first_name, profile.last_name, profile.city, profile.tags) == \
        (None, None, None, None, [])
    assert (send.status, send.template, send.template_version, send.segment) == \
        ("sent", "monthly", "abc123", "default")
    assert send.message_id.endswith("@vivier.example>")  # not personal: kept for bounce matching
    assert kinds["message_sent"] == {"segment": "default", "template": "monthly"}
    assert kinds["erased"] == {"source": "retention"}
    assert kinds["opened"] == {"user_agent": ERASED, "ip_address": ERASED}
    assert (suppression.reason, suppression.source) == ("erasure", "gdpr-retention")
    assert evidence[0]["form"] == "application" and evidence[0]["ip"] == ERASED
    assert evidence[0]["submitted"]["checkbox"] == "ticked"
    assert evidence[2] == {"page": "preferences", "channel": "email_link"}


def test_anonymising_again_changes_nothing(engine) -> None:
    person = person_with_history(engine, "Zéphyrine", "Quasimodo", "zeph.quasimodo@example.org")
    with engine.begin() as conn:
        anonymise(conn, [person.id], source="request")
    first = export_person_rows(engine, person.id)
    with engine.begin() as conn:
        assert anonymise(conn, [person.id, person.id], source="request") == []
    assert export_person_rows(engine, person.id) == first


def test_a_planned_message_to_an_erased_person_is_withdrawn_from_the_ledger(engine) -> None:
    person = person_with_history(engine, "Zéphyrine", "Quasimodo", "zeph.quasimodo@example.org")
    with engine.begin() as conn:
        conn.execute(sa.insert(Send), {"candidate_id": person.id, "cadence": "monthly",
                                       "period_key": "2023-04", "status": "pending"})
        audited = conn.execute(sa.insert(Send).returning(Send.id), {
            "candidate_id": person.id, "cadence": "monthly", "period_key": "2023-05",
            "status": "pending", "run_id": None}).scalar_one()
        conn.execute(sa.insert(Interaction), {"candidate_id": person.id, "send_id": audited,
                                              "kind": "resend_released", "details": {}})
    with engine.begin() as conn:
        anonymise(conn, [person.id], source="request")
    with engine.connect() as conn:
        ledger = conn.execute(sa.select(Send.period_key, Send.status, Send.run_id)
                              .where(Send.candidate_id == person.id).order_by(Send.period_key)).all()
    # The audited row stays for the trail, detached from any run: no run can claim it.
    assert [tuple(row) for row in ledger] == [("2023-02", "sent", ledger[0].run_id),
                                              ("2023-05", "pending", None)]


def test_an_address_already_suppressed_keeps_its_first_reason(engine) -> None:
    from tests import builders

    candidate_id = builders.candidate(engine, suppressed=True, email="gone@example.org")
    with engine.begin() as conn:
        anonymise(conn, [candidate_id], source="request")
    with engine.connect() as conn:
        reasons = conn.scalars(sa.select(Suppression.reason).where(
            Suppression.email_hash == email_hash("gone@example.org"))).all()
    assert reasons == ["unsubscribe"]


# --- the scrubbing rules, without a database -------------------------------------------------

LEA = Identifiers("Lea.Roy@Example.net", ("Léa", "Roy-Tremblay"))


def test_names_are_found_with_or_without_accents_and_in_any_case() -> None:
    text = "LÉA wrote; lea too; Roy-Tremblay, tremblay and lea.roy@example.NET"
    assert scrub_text(text, LEA.pattern) == \
        f"{ERASED} wrote; {ERASED} too; {ERASED}, {ERASED} and {ERASED}"


def test_a_name_is_erased_as_a_word_never_inside_another_word() -> None:
    short = Identifiers(None, ("Al", "Roy"))
    assert scrub_text("Al joined the alumni of Royal Air", short.pattern) == \
        f"{ERASED} joined the alumni of Royal Air"


def test_free_text_also_loses_any_address_or_ip_but_short_strings_keep_their_ids() -> None:
    text = "bounce for other@example.com from 10.0.0.1 and fe80:0:0:0:202:b3ff:fe1e:8329"
    assert scrub_text(text, LEA.pattern, broad=True) == f"bounce for {ERASED} from {ERASED} and {ERASED}"
    message_id = "<weekly.2026-W48.12@vivier.example>"
    assert scrub_text(message_id, LEA.pattern) == message_id
    assert scrub_text("sent at 10:00:00 on 2026-11-23", LEA.pattern, broad=True) == \
        "sent at 10:00:00 on 2026-11-23"


def test_personal_json_keys_lose_their_value_whatever_their_spelling() -> None:
    details = {"userAgent": "curl/8", "X-Forwarded-For": "1.2.3.4", "Note": "call me",
               "nested": [{"email": "x@y.z", "segment": "default"}], "empty_note": "", "code": 550}
    assert scrub_json(details, LEA.pattern) == {
        "userAgent": ERASED, "X-Forwarded-For": ERASED, "Note": ERASED,
        "nested": [{"email": ERASED, "segment": "default"}], "empty_note": "", "code": 550}
