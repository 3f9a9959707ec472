"""The demo's whole outbox, read as a candidate would: the demo seed, its history and the three
cadences into a Maildir, once per session (no Prefect: `run_period`, the flow's own lifecycle).

No English message holds a French vocabulary label and no French one an English label; no
opening is in a language the candidate does not read; every weekly message carries something
new; nobody with an open application is messaged.
"""

from __future__ import annotations

import mailbox
import re
import shutil
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from demo.history import seed_history
from demo.seed import seed_demo
from tests.builders import ALWAYS_OPEN
from vivier.messages.template_env import WORK_MODES
from vivier.pipeline.resources import Resources
from vivier.pipeline.run import run_period
from vivier.rules import places, vocabulary
from vivier.rules.cadences import CADENCES, today_in
from vivier.rules.contact import language_of
from vivier.rules.eligibility import OPEN_OUTCOMES
from vivier.settings import Settings, load_settings
from vivier.store import db
from vivier.store.schema import Application, Candidate, Content, Job, Send, SendItem

DEMO_CANDIDATES = 500  # what `make demo` seeds


@dataclass
class Message:
    cadence: str
    candidate_id: int
    language: str
    text: str  # subject and text part
    send_id: int
    sender: str  # the From display name


@dataclass
class Outbox:
    engine: sa.Engine
    messages: list[Message]
    run_ids: list[int]
    settings: Settings


@pytest.fixture(scope="session")
def demo_outbox(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Outbox:
    folder = tmp_path_factory.mktemp("demo-outbox")
    shutil.copy(sqlite_template, folder / "vivier.db")
    settings = load_settings(
        env="demo", database_url=f"sqlite:///{folder / 'vivier.db'}", transport="maildir",
        maildir_path=folder / "outbox", samples_dir=folder / "samples",
        secret_key="test-secret-key-of-at-least-32-bytes",
        **ALWAYS_OPEN)  # the whole outbox at once, whatever the hour: every wave, read together
    resources = Resources.build(settings)
    engine, today = resources.engine, today_in(settings.zone)
    seed_demo(engine, DEMO_CANDIDATES, 42, today, settings.zone, feeds_dir=folder / "feeds")
    seed_history(engine, settings, today)
    run_ids = [run_period(resources, cadence, today, force=True).run_id for cadence in CADENCES]
    with engine.connect() as conn:
        sends = {row.message_id: row for row in conn.execute(
            sa.select(Send.id, Send.message_id, Send.cadence, Send.candidate_id, Candidate.locale)
            .join(Candidate, Candidate.id == Send.candidate_id).where(Send.run_id.in_(run_ids)))}
    messages = []
    for raw in mailbox.Maildir(str(settings.maildir_path), factory=None, create=False):
        mail = message_from_bytes(raw.as_bytes(), policy=policy.default)
        send = sends[mail["Message-ID"]]
        messages.append(Message(send.cadence, send.candidate_id, language_of(send.locale),
                                f"{mail['Subject']}\n{mail.get_body(('plain',)).get_content()}",
                                send.id, mail["From"].addresses[0].display_name))
    yield Outbox(engine, messages, run_ids, settings)
    db.engine_for(settings.database_url).dispose()


def test_the_demo_sends_every_cadence_in_both_languages(demo_outbox: Outbox) -> None:
    seen = {(message.cadence, message.language) for message in demo_outbox.messages}
    assert seen == {(cadence, language) for cadence in CADENCES for language in ("fr", "en")}


def test_the_sender_name_is_in_the_message_language(demo_outbox: Outbox) -> None:
    settings = demo_outbox.settings
    assert settings.sender_name != settings.sender_name_en
    names = {(message.language, message.sender) for message in demo_outbox.messages}
    assert names == {("fr", settings.sender_name), ("en", settings.sender_name_en)}


def _labels(language: str) -> set[str]:
    """Every label the vocabulary writes in `language`: fields, places, work modes."""
    fields = {vocabulary.field_label(value, language) for value in vocabulary.EXPERTISES}
    where = {places.label(value, language) for value in places.search_locations()}
    where |= {places.label(code, language) for code in places.COUNTRY_NAMES}
    return fields | where | set(WORK_MODES[language].values())


def _data_words(engine: sa.Engine, candidate_ids: set[int]) -> list[str]:
    """What the feeds and the ATS wrote (titles, companies, summaries, names): not our copy."""
    with engine.connect() as conn:
        words = [*conn.scalars(sa.select(Job.title)), *conn.scalars(sa.select(Job.company)),
                 *conn.scalars(sa.select(Content.title)), *conn.scalars(sa.select(Content.summary)),
                 *conn.scalars(sa.select(Candidate.first_name).where(Candidate.id.in_(candidate_ids))),
                 *conn.scalars(sa.select(Candidate.owner_name))]
    return sorted({word for word in words if word}, key=len, reverse=True)


def test_no_message_holds_a_vocabulary_label_of_the_other_language(demo_outbox: Outbox) -> None:
    french, english = _labels("fr"), _labels("en")
    foreign = {"fr": english - french, "en": french - english}
    data = _data_words(demo_outbox.engine, {m.candidate_id for m in demo_outbox.messages})
    found = []
    for message in demo_outbox.messages:
        copy = message.text
        for words in data:  # a job title in English may reach a French reader of a bilingual job
            copy = copy.replace(words, " ")
        for label in foreign[message.language]:
            if not any(label in own for own in (french if message.language == "fr" else english)) \
                    and re.search(rf"(?<!\w){re.escape(label)}(?!\w)", copy):
                found.append((message.cadence, message.language, message.candidate_id, label))
        for broken in ("autour de", "around "):
            if broken in copy:
                found.append((message.cadence, message.language, message.candidate_id, broken))
    assert found == []


def test_no_opening_is_in_a_language_the_candidate_does_not_read(demo_outbox: Outbox) -> None:
    with demo_outbox.engine.connect() as conn:
        shown = conn.execute(
            sa.select(SendItem.send_id, Job.languages, Job.locale)
            .join(Job, Job.id == SendItem.item_id).where(SendItem.kind == "job")).all()
    language = {message.send_id: message.language for message in demo_outbox.messages}
    openings = [(send_id, languages or [locale]) for send_id, languages, locale in shown
                if send_id in language]
    assert openings, "the demo's messages carry openings"
    unreadable = [(send_id, spoken) for send_id, spoken in openings
                  if language[send_id] not in {language_of(each) for each in spoken}]
    assert unreadable == []


def test_every_weekly_message_carries_something_new_and_nothing_twice(demo_outbox: Outbox) -> None:
    with demo_outbox.engine.connect() as conn:
        items = conn.execute(sa.select(Send.candidate_id, SendItem.send_id, SendItem.kind,
                                       SendItem.item_id).join(Send, Send.id == SendItem.send_id)).all()
    carrying = {send_id for _, send_id, _, _ in items}
    weekly = [m for m in demo_outbox.messages if m.cadence == "weekly"]
    assert weekly and [m.send_id for m in weekly if m.send_id not in carrying] == []
    shown = [(candidate, kind, item) for candidate, _, kind, item in items]
    assert len(shown) == len(set(shown))  # never the same opening or item twice to one person


def test_nobody_with_an_open_application_is_messaged(demo_outbox: Outbox) -> None:
    with demo_outbox.engine.connect() as conn:
        in_process = set(conn.scalars(sa.select(Application.candidate_id).where(
            Application.outcome.in_(sorted(OPEN_OUTCOMES)))))
    assert in_process, "the demo has candidates in a hiring process"
    assert sorted({m.candidate_id for m in demo_outbox.messages} & in_process) == []
