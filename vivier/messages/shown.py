"""What sent messages showed each candidate: recorded per send, read per batch, never shown again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from vivier.ledger.states import SendState
from vivier.store.schema import Send, SendItem
from vivier.store.sql import one_of


@dataclass(frozen=True)
class Shown:
    """The openings (jobs.id) and content items (content.id) one candidate has already been sent."""

    jobs: frozenset[int] = frozenset()
    content: frozenset[int] = frozenset()


NOTHING_SHOWN = Shown()


def shown_in_range(conn: Connection, lo: int, hi: int) -> dict[int, Shown]:
    """What earlier sent messages showed the candidates in `(lo, hi]`: one query for the batch."""
    return _read(conn, (Send.candidate_id > lo, Send.candidate_id <= hi))


def shown_to(conn: Connection, candidate_ids: Iterable[int]) -> dict[int, Shown]:
    """What earlier sent messages showed these candidates: one query for all of them."""
    return _read(conn, (one_of(Send.candidate_id, candidate_ids),))


def _read(conn: Connection, where: tuple[Any, ...]) -> dict[int, Shown]:
    query = (select(Send.candidate_id, SendItem.kind, SendItem.item_id)
             .join(Send, Send.id == SendItem.send_id)
             .where(Send.status == str(SendState.sent), *where))
    jobs: dict[int, set[int]] = {}
    content: dict[int, set[int]] = {}
    for candidate_id, kind, item_id in conn.execute(query):
        (jobs if kind == "job" else content).setdefault(candidate_id, set()).add(item_id)
    return {candidate_id: Shown(frozenset(jobs.get(candidate_id, ())),
                                frozenset(content.get(candidate_id, ())))
            for candidate_id in jobs.keys() | content.keys()}


def items_of(context: dict[str, Any]) -> list[tuple[str, int]]:
    """The (kind, id) of every opening and content item a render context puts in the message."""
    items = [("job", opening["id"]) for opening in context["openings"]]
    items += [("content", entry["id"]) for entries in context["content"].values()
              for entry in entries]
    return items


def carried(conn: Connection, run_id: int) -> dict[str, int]:
    """How many of a run's sent messages carried at least one opening, and at least one content item."""
    from sqlalchemy import func

    rows = conn.execute(
        select(SendItem.kind, func.count(func.distinct(SendItem.send_id)))
        .join(Send, Send.id == SendItem.send_id)
        .where(Send.run_id == run_id, Send.status == SendState.sent).group_by(SendItem.kind))
    found = dict(rows.all())
    return {"openings": int(found.get("job", 0)), "content": int(found.get("content", 0))}
