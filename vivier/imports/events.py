"""Provider events in (delivered, opened, clicked, bounced, complained, replied), each recorded once.

An event names its message by Message-ID; the send ledger (`sends.message_id`) ties it to a
candidate, cadence and period. An event no send matches is an *orphan*: recorded with no
candidate, never a crash. `event_key` makes ingestion idempotent: `source:id` when the
provider gives an event id, else a hash of the event's content, so the same event sent
twice (by the hook, by a file, or both) is recorded once and has its effects once.

Effects, in the transaction that records the event: a hard bounce suppresses the address
(`hard_bounce`); a complaint suppresses it (`complaint`) and withdraws consent the way the
preference centre does; a delivered or bounced event settles its send as `sent` if a crash
left it in doubt (the message did leave); anything else only records. Nothing personal is stored: a click
keeps its URL (ours, with link tokens cut out), `recipient` only serves to suppress an
orphan's address by hash, and an erased candidate's event keeps only its link to the send.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import Connection, Engine, select

from vivier.ledger import reconcile
from vivier.preferences import Choices, Evidence, UnknownCandidate, apply_choices_in
from vivier.rules.identity import email_hash
from vivier.store.schema import Candidate, Send, utcnow
from vivier.store.sql import add_suppressions, one_of, record_events

EVENT_TYPES = ("delivered", "opened", "clicked", "bounced", "complained", "replied")
CHUNK_SIZE = 5_000
CLOCK_SKEW = timedelta(minutes=5)  # a provider's clock may run a little ahead of ours
EARLIEST_YEAR = 1900  # before it, a date is a "no date" placeholder, not an event
COMPLAINT_SOURCE = "provider-complaint"
DEFAULT_SOURCE = "esp"  # the provider namespace of event ids, for the hook and for files alike
SOURCE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_MESSAGE_ID = re.compile(r"^[^\s<>]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")  # lone surrogates cannot be stored
# Preference and unsubscribe links carry a bearer token: a click keeps the page, not the token.
_LINK_TOKEN = re.compile(r"/([pu])/[^/?#]+")


class ProviderEvent(BaseModel):
    """One event reported by the email provider, in vivier's own format (unknown fields ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    type: Literal["delivered", "opened", "clicked", "bounced", "complained", "replied"]
    message_id: str = Field(min_length=1, max_length=250)
    occurred_at: AwareDatetime
    id: str | None = Field(None, min_length=1, max_length=160)  # the provider's event id
    bounce_type: Literal["hard", "soft"] | None = None
    url: str | None = Field(None, max_length=2000)
    recipient: str | None = Field(None, max_length=320, repr=False)

    @field_validator("message_id", "id", "url", "recipient")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL.search(value):
            raise ValueError("contains a line break or control character")
        return value

    @field_validator("message_id")
    @classmethod
    def _bracketed(cls, value: str) -> str:
        bare = value[1:-1] if value.startswith("<") and value.endswith(">") else value
        if not _MESSAGE_ID.match(bare):
            raise ValueError("must be one Message-ID, e.g. <weekly.2026-W48.c12@example.org>, "
                             "with no spaces or extra angle brackets")
        return f"<{bare}>"  # the form `sends.message_id` holds

    @field_validator("occurred_at")
    @classmethod
    def _not_future(cls, value: datetime) -> datetime:
        try:
            value = value.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 or 9999-12-31T23:59-01:00: off the calendar
            raise ValueError(f"is before {EARLIEST_YEAR}: a 'no date' placeholder?"
                             if value.year < EARLIEST_YEAR else "is in the future") from None
        if value.year < EARLIEST_YEAR:
            raise ValueError(f"is before {EARLIEST_YEAR}: a 'no date' placeholder?")
        if value > utcnow() + CLOCK_SKEW:
            raise ValueError("is in the future (more than 5 minutes ahead of our clock)")
        return value

    @field_validator("url")
    @classmethod
    def _web_link(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("https://", "http://")):
            raise ValueError("must be an http(s) link")
        return value

    @model_validator(mode="after")
    def _bounce_typed(self) -> ProviderEvent:
        if self.type == "bounced" and self.bounce_type is None:
            raise ValueError("bounce_type (hard or soft) is required when type is bounced")
        return self

    def key(self, source: str) -> str:
        """The idempotency key: the provider's id in its namespace, else a hash of the content."""
        if self.id is not None:
            return f"{source}:{self.id}"
        content = [self.type, self.message_id, self.occurred_at.isoformat(), self.bounce_type,
                   self.url]
        return "sha256:" + hashlib.sha256(json.dumps(content).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class EventProblem:
    """Why an event was refused: its position, the field, the reason (never the value)."""

    index: int
    field: str
    message: str


@dataclass
class IngestResult:
    """What an ingestion did; `recorded` includes the orphans."""

    recorded: int = 0
    duplicates: int = 0
    orphans: int = 0
    suppressed: int = 0
    withdrawn: int = 0

    def as_json(self) -> dict[str, int]:
        return asdict(self)


def problems_of(index: int, error: ValidationError) -> list[EventProblem]:
    """A validation error as problems safe to show: pydantic's messages, never the input."""
    return [EventProblem(index, ".".join(str(part) for part in item["loc"]) or "event",
                         item["msg"].removeprefix("Value error, "))
            for item in error.errors(include_input=False, include_url=False)]


def parse_event(index: int, item: Any) -> tuple[ProviderEvent | None, list[EventProblem]]:
    """The item as an event, or the problems that keep it from being one.

    An error nobody foresaw is a problem too, named by its type only: its text may hold the
    event's values, which must not reach an answer or a log.
    """
    try:
        return ProviderEvent.model_validate(item), []
    except ValidationError as error:
        return None, problems_of(index, error)
    except Exception as error:  # noqa: BLE001 - see above
        return None, [EventProblem(index, "event", f"unexpected error ({type(error).__name__})")]


def parse_events(items: list[Any]) -> tuple[list[ProviderEvent], list[EventProblem]]:
    """Every item as an event, and the problems of those that are not (by index)."""
    events, problems = [], []
    for index, item in enumerate(items):
        event, found = parse_event(index, item)
        if event is not None:
            events.append(event)
        problems += found
    return events, problems


def check_source(source: str) -> str:
    """The source name, or ValueError saying what a source name may be."""
    if not SOURCE.match(source):
        raise ValueError(f"event source {source[:40]!r} must be 1-32 lower-case letters, digits, "
                         "'-' or '_' (the provider's name, e.g. 'esp' or 'postmark')")
    return source


def ingest(engine: Engine, events: Iterable[ProviderEvent], source: str) -> IngestResult:
    """Record events not seen before and apply their effects, all in one transaction."""
    check_source(source)
    result, seen = IngestResult(), set[str]()
    with engine.begin() as conn:
        for chunk in _chunks(events):
            _ingest_chunk(conn, chunk, source, seen, result)
    return result


def _chunks(events: Iterable[ProviderEvent]) -> Iterator[list[ProviderEvent]]:
    iterator = iter(events)
    while chunk := list(islice(iterator, CHUNK_SIZE)):
        yield chunk


def _ingest_chunk(
    conn: Connection, chunk: list[ProviderEvent], source: str, seen: set[str], result: IngestResult
) -> None:
    keyed: list[tuple[str, ProviderEvent]] = []
    for event in chunk:
        key = event.key(source)
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        keyed.append((key, event))
    sends = _sends(conn, {event.message_id for _, event in keyed})
    fresh = record_events(conn, [_interaction(key, event, sends.get(event.message_id), source)
                                 for key, event in keyed])
    result.duplicates += len(keyed) - len(fresh)
    suppressions: dict[str, dict[str, Any]] = {}
    complainers: dict[int, datetime] = {}
    for key, event in keyed:
        if key not in fresh:
            continue  # already recorded: its effects were applied then
        send = sends.get(event.message_id)
        result.recorded += 1
        result.orphans += send is None
        reason = _suppression_reason(event)
        if reason is None or (send is not None and send["erased_at"] is not None):
            continue  # an erased address is already suppressed (by erasure)
        address = event.recipient if send is None else send["email"]
        if address:
            suppressions.setdefault(email_hash(address), {
                "email_hash": email_hash(address), "reason": reason, "source": source,
                "created_at": event.occurred_at})
        if send is not None and reason == "complaint":
            complainers.setdefault(send["candidate_id"], event.occurred_at)
    add_suppressions(conn, list(suppressions.values()))
    result.suppressed += len(suppressions)
    _settle_in_doubt(conn, keyed, fresh, sends)
    for candidate_id, at in complainers.items():
        result.withdrawn += _withdraw_consent(conn, candidate_id, at)


def _settle_in_doubt(conn: Connection, keyed: list[tuple[str, ProviderEvent]], fresh: set[str],
                     sends: dict[str, Mapping[Any, Any]]) -> None:
    """A delivered or bounced message left: its send, if in doubt, is sent (the evidence kept)."""
    evidence: dict[int, dict[str, Any]] = {}
    for key, event in keyed:
        send = sends.get(event.message_id)
        if key in fresh and send is not None and event.type in reconcile.EVIDENCE_KINDS:
            evidence.setdefault(send["id"], {"evidence": event.type, "event_key": key})
    reconcile.from_events(conn, evidence, utcnow())


def _suppression_reason(event: ProviderEvent) -> str | None:
    """Why this event silences the address, if it does."""
    if event.type == "complained":
        return "complaint"
    return "hard_bounce" if event.type == "bounced" and event.bounce_type == "hard" else None


def _sends(conn: Connection, message_ids: set[str]) -> dict[str, Mapping[Any, Any]]:
    """The ledger rows behind these Message-IDs, with their candidate's address and erasure."""
    if not message_ids:
        return {}
    rows = conn.execute(
        select(Send.id, Send.message_id, Send.candidate_id, Send.cadence, Send.period_key,
               Candidate.email, Candidate.erased_at)
        .join(Candidate, Candidate.id == Send.candidate_id)
        .where(one_of(Send.message_id, message_ids)))
    return {row.message_id: row._mapping for row in rows}


def _interaction(
    key: str, event: ProviderEvent, send: Mapping[Any, Any] | None, source: str
) -> dict[str, Any]:
    """The `interactions` row of an event: tied to its send, or an orphan."""
    details: dict[str, Any] = {"source": source}
    if event.type == "bounced":
        details["type"] = event.bounce_type
    erased = send is not None and send["erased_at"] is not None
    if event.type == "clicked" and event.url and not erased:
        details["url"] = _LINK_TOKEN.sub(r"/\1/…", event.url)
    if send is None:
        details.update(orphan=True, message_id=event.message_id)
        send = {"candidate_id": None, "id": None, "cadence": None, "period_key": None}
    return {"candidate_id": send["candidate_id"], "send_id": send["id"], "kind": event.type,
            "cadence": send["cadence"], "period_key": send["period_key"], "flow_run_id": None,
            "event_key": key, "details": details, "occurred_at": event.occurred_at}


def _withdraw_consent(conn: Connection, candidate_id: int, at: datetime) -> bool:
    """Withdraw consent as the preference centre does (also leaving the privileged pool)."""
    try:
        changes = apply_choices_in(conn, candidate_id, Choices(consent=False),
                                   Evidence(source=COMPLAINT_SOURCE, at=at))
    except UnknownCandidate:
        return False
    return any(change.what == "consent" for change in changes)
