"""Every write of `sends.status`: plan, withdraw, claim, release, record, expire, reconcile, resolve,
lapse; and of who may claim a row when (`adopt_due`, `reschedule`: the send windows).

Each statement is built from the allowed moves (`states.ALLOWED`) and guarded in SQL by the
state the row must be in, so a concurrent writer that got there first wins and nothing else
is overwritten: the guard *is* the exactly-once guarantee. No other module writes `status`.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.elements import TextClause

from vivier.ledger.states import NEW, Move, SendState, check_move, sources
from vivier.store.bulk import Write, columns_of, is_postgres, json_rows, raw_rows, unnest_from
from vivier.store.schema import Interaction, Send, utcnow
from vivier.store.sql import one_of

_SENDS = cast(Table, Send.__table__)
# The claim and the record on PostgreSQL (outside a send window): its rows as arrays.
_CLAIM_PG = text(f"""
    UPDATE sends SET status = '{SendState.sending}', claimed_at = :now, attempts = sends.attempts + 1,
                     flow_run_id = :flow_run_id, message_id = given.message_id
    FROM unnest(CAST(:ids AS BIGINT[]), CAST(:message_ids AS TEXT[])) AS given(id, message_id)
    WHERE sends.id = given.id AND sends.status = '{SendState.pending}' AND sends.run_id = :run_id
    RETURNING sends.id, sends.candidate_id, sends.segment, sends.template""")
_RECORD_PG = text(f"""
    UPDATE sends SET status = given.status, message_id = given.message_id, error = given.error,
                     sent_at = given.sent_at
    FROM unnest(CAST(:ids AS BIGINT[]), CAST(:statuses AS TEXT[]), CAST(:message_ids AS TEXT[]),
                CAST(:errors AS TEXT[]), CAST(:sent_ats AS TIMESTAMP WITH TIME ZONE[]))
         AS given(id, status, message_id, error, sent_at)
    WHERE sends.id = given.id AND sends.status = '{SendState.sending}'""")


@dataclass(frozen=True)
class Claim:
    """A ledger row a sender holds (`sending`), with what it needs to build the message."""

    send_id: int
    candidate_id: int
    segment: str | None
    template: str


@dataclass(frozen=True)
class Due:
    """Which pending rows may leave at `at`: their window has opened and, when it has a
    `length`, not yet closed (a row that missed its window waits for the next one)."""

    at: datetime
    length: timedelta | None = None

    def condition(self) -> Any:
        if self.length is None:
            opened = Send.not_before <= self.at
        else:
            opened = and_(Send.not_before <= self.at, Send.not_before > self.at - self.length)
        return or_(Send.not_before.is_(None), opened)  # planned before send windows: at once


def _move(conn: Connection, move: Move, target: SendState, *where: Any, **values: Any) -> Any:
    """`UPDATE sends SET status = target … WHERE status IN (move's sources) AND where…`."""
    before = sources(move)
    for source in before:
        check_move(move, source, target)
    return conn.execute(
        update(Send).where(Send.status.in_([str(s) for s in before]), *where)
        .values(status=str(target), **values)
    )


# What a re-plan may change on a row it finds still plannable (the conflict's update).
_REPLANNED = ("run_id", "flow_run_id", "segment", "template", "template_version", "privileged",
              "not_before", "send_by", "zone")


def plan(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Write plan rows as `pending`; a row already claimed, sent or in doubt is left alone."""
    if not rows:
        return
    check_move(Move.plan, NEW, SendState.pending)
    if is_postgres(conn):  # one execution for the batch's rows (executemany: one per row)
        names = tuple(rows[0])
        conn.execute(_plan_statement(names), columns_of(rows, names, _SENDS))
        return
    statement = sqlite.insert(Send)
    plannable = ", ".join(f"'{state}'" for state in sources(Move.plan))
    statement = statement.on_conflict_do_update(
        index_elements=["candidate_id", "cadence", "period_key"],
        set_={"status": str(SendState.pending), "error": None,
              **{name: statement.excluded[name] for name in _REPLANNED}},
        # Literal SQL: an expanding IN cannot sit in a many-row statement.
        where=text(f"sends.status IN ({plannable})"),
    )
    conn.execute(statement, [{**row, "status": str(SendState.pending)} for row in rows])


@lru_cache(maxsize=8)
def _plan_statement(names: tuple[str, ...]) -> TextClause:
    """`plan` on PostgreSQL: the rows as arrays, the same conflict rule as the statement above."""
    plannable = ", ".join(f"'{state}'" for state in sources(Move.plan))
    return text(
        f"INSERT INTO sends ({', '.join(names)}, status) "
        f"SELECT {', '.join(names)}, '{SendState.pending}' FROM {unnest_from(_SENDS, names)} "
        "ON CONFLICT (candidate_id, cadence, period_key) DO UPDATE SET "
        f"status = '{SendState.pending}', error = NULL, "
        + ", ".join(f"{name} = excluded.{name}" for name in _REPLANNED)
        + f" WHERE sends.status IN ({plannable})")


def withdraw(conn: Connection, *conditions: Any) -> None:
    """Withdraw pending rows from the plan: deleted, unless an interaction points at them (then
    detached from their run, so no sender of that run claims them)."""
    pending = and_(Send.status == str(SendState.pending), *conditions)
    referenced = exists(select(Interaction.id).where(Interaction.send_id == Send.id))
    conn.execute(update(Send).where(pending, referenced)
                 .values(run_id=None, error="withdrawn from the plan"))
    conn.execute(delete(Send).where(pending, ~referenced))


def withdraw_run(engine: Engine, run_id: int) -> None:
    """Withdraw a run's whole plan: the run stops before sending it."""
    with engine.begin() as conn:
        withdraw(conn, Send.run_id == run_id)


def claimable(engine: Engine, run_id: int, lo: int, hi: int, size: int,
              due: Due | None = None) -> list[Claim]:
    """Up to `size` of the run's pending rows in `(lo, hi]` (only those `due`, when given), by
    candidate: read, not yet claimed."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Send.id, Send.candidate_id, Send.segment, Send.template).where(
                Send.run_id == run_id, Send.status == str(SendState.pending),
                Send.candidate_id > lo, Send.candidate_id <= hi,
                *([due.condition()] if due is not None else []),
            ).order_by(Send.candidate_id).limit(size))
        return [Claim(row.id, row.candidate_id, row.segment, row.template or "") for row in rows]


def claim(conn: Connection, run_id: int, flow_run_id: str | None,
          message_ids: dict[int, str | None]) -> list[Claim]:
    """Move these pending rows (send id -> its Message-ID) to `sending`; returns those taken.

    The status guard makes the claim exclusive: a concurrent run claims other rows or none.
    The Message-ID is written with the claim, so evidence of a message that left (an event, a
    server log) finds its row even if the sender dies before recording the answer.
    """
    if not message_ids:
        return []
    check_move(Move.claim, SendState.pending, SendState.sending)
    ids = list(message_ids)
    if is_postgres(conn):
        claimed = conn.execute(_CLAIM_PG, {
            "now": utcnow(), "flow_run_id": flow_run_id, "run_id": run_id, "ids": ids,
            "message_ids": list(message_ids.values())})
        held = [Claim(row.id, row.candidate_id, row.segment, row.template or "") for row in claimed]
        return sorted(held, key=lambda claim: claim.candidate_id)
    claimed = conn.execute(
        update(Send)
        .where(one_of(Send.id, ids), Send.status == str(SendState.pending), Send.run_id == run_id)
        .values(status=str(SendState.sending), claimed_at=utcnow(), attempts=Send.attempts + 1,
                flow_run_id=flow_run_id, message_id=case(message_ids, value=Send.id, else_=None))
        .returning(Send.id, Send.candidate_id, Send.segment, Send.template)
    )
    held = [Claim(row.id, row.candidate_id, row.segment, row.template or "") for row in claimed]
    return sorted(held, key=lambda claim: claim.candidate_id)


def adopt_due(conn: Connection, run_id: int, cadence: str, period_key: str, due: Due, lo: int, hi: int,
              busy_runs: list[int]) -> int:
    """Hand the period's due pending rows in `(lo, hi]` to a deliver run (`run_id`); rows of a
    run still at work (`busy_runs`) stay its own to send. Returns how many it took.

    Only the owner of a row claims it (`claim` is guarded by the run), so however a deliver run
    and a cadence run overlap, each row leaves once.
    """
    taken = conn.execute(
        update(Send).where(
            Send.cadence == cadence, Send.period_key == period_key,
            Send.status == str(SendState.pending), due.condition(),
            Send.candidate_id > lo, Send.candidate_id <= hi,
            or_(Send.run_id.is_(None), Send.run_id.not_in(busy_runs or [-1])),
        ).values(run_id=run_id))
    return int(taken.rowcount or 0)


def lapse(conn: Connection, moment: datetime) -> list[tuple[str, str, str | None]]:
    """Pending rows whose period's lateness limit (`send_by`) passed before they could leave:
    `failed`, never sent. Returns (cadence, period key, zone) of each, for the summary."""
    check_move(Move.lapse, SendState.pending, SendState.failed)
    lapsed = conn.execute(
        update(Send).where(Send.status == str(SendState.pending), Send.send_by <= moment)
        .values(status=str(SendState.failed),
                error="lapsed: its send window came after the period's lateness limit")
        .returning(Send.cadence, Send.period_key, Send.zone))
    return [(row.cadence, row.period_key, row.zone) for row in lapsed]


def missed_window(conn: Connection, cadence: str, due: Due) -> list[tuple[int, int]]:
    """(send id, candidate id) of the cadence's pending rows whose window closed unsent (a
    deliver run that did not come): they wait for their next window (`reschedule`)."""
    if due.length is None:
        return []
    return [(row.id, row.candidate_id) for row in conn.execute(
        select(Send.id, Send.candidate_id).where(
            Send.cadence == cadence, Send.status == str(SendState.pending),
            Send.not_before <= due.at - due.length))]


def reschedule(conn: Connection, not_before: dict[int, datetime]) -> None:
    """Give pending rows (send id -> instant) the opening of their next window."""
    if not not_before:
        return
    sends = cast(Table, Send.__table__)
    conn.execute(
        sends.update().where(sends.c.id == bindparam("send_id"),
                             sends.c.status == str(SendState.pending))
        .values(not_before=bindparam("new_not_before")),
        [{"send_id": send_id, "new_not_before": moment} for send_id, moment in not_before.items()])


# A send window on PostgreSQL: its outcomes and the next window's claim, each a JSON parameter
# (`bulk.json_insert` says why JSON), run on psycopg's cursor as one prepared statement.
_RECORD_JSON = f"""
    UPDATE sends SET status = given.status, message_id = given.message_id, error = given.error,
                     sent_at = CASE WHEN given.sent THEN CAST(%(now)s AS TIMESTAMP WITH TIME ZONE) END
    FROM (SELECT CAST(e->>0 AS BIGINT) AS id, e->>1 AS status, e->>2 AS message_id,
                 e->>3 AS error, CAST(e->>4 AS BOOLEAN) AS sent
          FROM json_array_elements(CAST(%(recorded)s AS json)) AS e) AS given
    WHERE sends.id = given.id AND sends.status = '{SendState.sending}'"""
_CLAIM_JSON = f"""
    UPDATE sends SET status = '{SendState.sending}', claimed_at = CAST(%(now)s AS TIMESTAMP WITH TIME ZONE),
                     attempts = sends.attempts + 1, flow_run_id = %(flow_run_id)s,
                     message_id = given.message_id
    FROM (SELECT CAST(e->>0 AS BIGINT) AS id, e->>1 AS message_id
          FROM json_array_elements(CAST(%(claimed)s AS json)) AS e) AS given
    WHERE sends.id = given.id AND sends.status = '{SendState.pending}'
      AND sends.run_id = CAST(%(run_id)s AS BIGINT)
    RETURNING sends.id, sends.candidate_id, sends.segment, sends.template"""

# What a send window records of each claimed row: send id, new status, Message-ID, error, and
# whether it was sent (its `sent_at` is then the window's time).
Recorded = tuple[int, SendState, str | None, str | None, bool]


def record_and_claim(
    conn: Connection, outcomes: list[Recorded], run_id: int, flow_run_id: str | None,
    message_ids: dict[int, str | None], now: datetime, writes: list[Write] = (),  # type: ignore[assignment]
) -> list[Claim]:
    """`record` these outcomes and `claim` the next rows (send id -> Message-ID) in one statement
    on PostgreSQL, with the caller's other `writes` of the window (its interactions, what it
    showed) in it too; `now` dates them all.

    A send window then costs one round trip, whatever it records; on a connection in autocommit
    the statement is its own transaction, so the claim is still committed before its messages
    leave, and the record at most a window later."""
    for status in {outcome[1] for outcome in outcomes}:
        check_move(Move.record, SendState.sending, status)
    check_move(Move.claim, SendState.pending, SendState.sending)
    params: dict[str, Any] = {
        "recorded": json_rows([(send_id, str(status), message_id, error, sent)
                               for send_id, status, message_id, error, sent in outcomes]),
        "claimed": json_rows(list(message_ids.items())),
        "now": now, "flow_run_id": flow_run_id, "run_id": run_id,
    }
    for _, values in writes:
        params.update(values)
    claimed = raw_rows(conn, _window_sql(tuple(sql for sql, _ in writes)), params)
    return sorted((Claim(send_id, candidate_id, segment, template or "")
                   for send_id, candidate_id, segment, template in claimed),
                  key=lambda claim: claim.candidate_id)


@lru_cache(maxsize=16)
def _window_sql(writes: tuple[str, ...]) -> str:
    others = "".join(f", also{number} AS ({sql})" for number, sql in enumerate(writes))
    return (f"WITH recorded AS ({_RECORD_JSON}){others}, claimed AS ({_CLAIM_JSON}) "
            "SELECT id, candidate_id, segment, template FROM claimed")


def release(engine: Engine, send_ids: list[int]) -> None:
    """Claimed but never attempted: hand them back as pending."""
    if send_ids:
        with engine.begin() as conn:
            _move(conn, Move.release, SendState.pending, Send.id.in_(send_ids),
                  claimed_at=None)


def record(conn: Connection, outcomes: list[dict[str, Any]]) -> None:
    """The outcome of claimed rows, in one statement: each dict has `send_id`, `new_status`
    (sent, failed or in_doubt), `message_id`, `error`, `sent_at`."""
    if not outcomes:
        return
    rows = [{**row, "new_status": str(check_move(Move.record, SendState.sending, row["new_status"]))}
            for row in outcomes]
    if is_postgres(conn):
        conn.execute(_RECORD_PG, {
            "ids": [row["send_id"] for row in rows], "statuses": [row["new_status"] for row in rows],
            "message_ids": [row["message_id"] for row in rows],
            "errors": [row["error"] for row in rows], "sent_ats": [row["sent_at"] for row in rows]})
        return
    sends = cast(Table, Send.__table__)
    conn.execute(
        sends.update().where(sends.c.id == bindparam("send_id"),
                             sends.c.status == str(SendState.sending)).values(
            status=bindparam("new_status"), message_id=bindparam("message_id"),
            error=bindparam("error"), sent_at=bindparam("sent_at"),
        ),
        rows,
    )


def expire_claims(conn: Connection, send_ids: list[int]) -> None:
    """Claims older than the lease: the sender stopped mid-chunk, so the message may have left."""
    if send_ids:
        _move(conn, Move.expire, SendState.in_doubt, Send.id.in_(send_ids),
              error="claim expired: the sender stopped mid-chunk")


def record_history(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Rows for messages that left before this ledger saw them (the demo's past periods)."""
    check_move(Move.history, NEW, SendState.sent)
    if rows:
        conn.execute(insert(Send), [{**row, "status": str(SendState.sent)} for row in rows])


def reconcile(conn: Connection, evidence: dict[int, dict[str, Any]], now: datetime) -> list[int]:
    """In-doubt rows (send id -> what shows it left) that did leave: `sent`, with the evidence
    recorded as an `in_doubt_reconciled` interaction. Rows not in doubt are left alone."""
    if not evidence:
        return []
    check_move(Move.reconcile, SendState.in_doubt, SendState.sent)
    moved = conn.execute(
        update(Send).where(one_of(Send.id, list(evidence)), Send.status == str(SendState.in_doubt))
        .values(status=str(SendState.sent), sent_at=now, error="reconciled from evidence")
        .returning(Send.id, Send.candidate_id, Send.cadence, Send.period_key)
    ).all()
    if moved:
        conn.execute(insert(Interaction), [{
            "candidate_id": row.candidate_id, "send_id": row.id, "kind": "in_doubt_reconciled",
            "cadence": row.cadence, "period_key": row.period_key, "occurred_at": now,
            "details": evidence[row.id],
        } for row in moved])
    return sorted(row.id for row in moved)


def resolve_in_doubt(
    engine: Engine, cadence: str, period_key: str, action: str, candidate_ids: list[int] | None = None,
    now: datetime | None = None, claimed_before: datetime | None = None,
) -> list[int]:
    """`mark_sent`: the operator checked it arrived; `resend`: hand it back to the next run.

    Either way an interaction records who decided what, and when. `claimed_before` limits the
    decision to rows that may have left before then (those past the wait for evidence).
    """
    if action not in ("mark_sent", "resend"):
        raise ValueError(f"unknown in-doubt action {action!r}: use mark_sent or resend")
    now = now or utcnow()
    with engine.begin() as conn:
        query = select(Send.id, Send.candidate_id).where(
            Send.cadence == cadence, Send.period_key == period_key,
            Send.status == str(SendState.in_doubt))
        if candidate_ids:
            query = query.where(Send.candidate_id.in_(candidate_ids))
        if claimed_before is not None:
            query = query.where(or_(Send.claimed_at.is_(None), Send.claimed_at <= claimed_before))
        rows = conn.execute(query).all()
        if not rows:
            return []
        chosen = Send.id.in_([row.id for row in rows])
        if action == "mark_sent":
            _move(conn, Move.mark_sent, SendState.sent, chosen,
                  sent_at=now, error="marked sent by an operator")
        else:
            _move(conn, Move.resend, SendState.pending, chosen,
                  run_id=None, claimed_at=None, error="released for resend by an operator")
        conn.execute(insert(Interaction), [{
            "candidate_id": row.candidate_id, "send_id": row.id, "kind": f"in_doubt_{action}",
            "cadence": cadence, "period_key": period_key, "occurred_at": now,
            "details": {"operator": getpass.getuser(), "action": action},
        } for row in rows])
    return sorted(row.candidate_id for row in rows)
