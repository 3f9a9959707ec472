"""The send states and the moves allowed between them: exactly-once, written down once.

    (no row) ──plan──▶ pending ──claim──▶ sending ──outcome──▶ sent | failed | in_doubt
                          ▲                  │                          │        │
                          └────release───────┘     failed ──re-plan──▶ pending   │
                                                   in_doubt ──evidence──▶ sent
                                                   in_doubt ──operator──▶ sent | pending
             pending ──lapse──▶ failed   (still waiting for its send window when the period's
                                          lateness limit passed: never sent)

`sent` is final: nothing moves a sent row, so nobody gets one message twice. `in_doubt`
(the message may have left) becomes `sent` on evidence that it did (a delivered or bounced
event, the server's accepted-id log) and otherwise moves only by an operator's decision.
A pending row can also be *withdrawn* from the plan (deleted, or detached when an
interaction points at it).
"""

from __future__ import annotations

from enum import StrEnum


class SendState(StrEnum):
    pending = "pending"  # planned: may be claimed by a sender
    sending = "sending"  # claimed and committed before the message leaves
    sent = "sent"  # accepted by the transport: final
    failed = "failed"  # not accepted, nothing delivered: a later run may plan it again
    in_doubt = "in_doubt"  # the message may have left: never resent without an operator


NEW = None  # "no ledger row yet": where plans (and imported history) start


class Move(StrEnum):
    """Who may move a row, from which states, to which: each write of the ledger is one of these."""

    plan = "plan"  # a run decides to send: new, or planned again after a failure
    claim = "claim"  # a sender takes the row before the message leaves
    release = "release"  # a sender hands back what it never attempted
    record = "record"  # the transport's answer
    expire = "expire"  # a claim older than the lease: the sender died mid-chunk
    reconcile = "reconcile"  # evidence that it left: a delivered/bounced event, an accepted-id log
    mark_sent = "mark_sent"  # an operator checked that it arrived
    resend = "resend"  # an operator hands it back to the next run
    history = "history"  # a send made before this ledger saw it (the demo's past periods)
    lapse = "lapse"  # still waiting when the period's lateness limit passed: never sent


_MOVES: dict[Move, tuple[frozenset[SendState | None], frozenset[SendState]]] = {
    Move.plan: (frozenset({NEW, SendState.pending, SendState.failed}), frozenset({SendState.pending})),
    Move.claim: (frozenset({SendState.pending}), frozenset({SendState.sending})),
    Move.release: (frozenset({SendState.sending}), frozenset({SendState.pending})),
    Move.record: (frozenset({SendState.sending}),
                  frozenset({SendState.sent, SendState.failed, SendState.in_doubt})),
    Move.expire: (frozenset({SendState.sending}), frozenset({SendState.in_doubt})),
    Move.reconcile: (frozenset({SendState.in_doubt}), frozenset({SendState.sent})),
    Move.mark_sent: (frozenset({SendState.in_doubt}), frozenset({SendState.sent})),
    Move.resend: (frozenset({SendState.in_doubt}), frozenset({SendState.pending})),
    Move.history: (frozenset({NEW}), frozenset({SendState.sent})),
    Move.lapse: (frozenset({SendState.pending}), frozenset({SendState.failed})),
}

# The whole graph, for reading: which states a row may go to from each state, by any move.
ALLOWED: dict[SendState | None, frozenset[SendState]] = {
    state: frozenset(target for sources, targets in _MOVES.values() if state in sources
                     for target in targets)
    for state in (NEW, *SendState)
}


def sources(move: Move) -> tuple[SendState, ...]:
    """The existing states a row may be in for `move` (in a stable order, for SQL guards)."""
    return tuple(state for state in SendState if state in _MOVES[move][0])


# States of a message that left, or may have.
LEFT_OR_MAY_HAVE = (SendState.sent, SendState.sending, SendState.in_doubt)
# States a run's delivery accounts as attempted.
ATTEMPTED = (SendState.sent, SendState.failed, SendState.in_doubt)


class ForbiddenMove(ValueError):
    """A ledger write that would break exactly-once (e.g. moving a sent row back to pending)."""


def check_move(move: Move, old: SendState | str | None, new: SendState | str) -> SendState:
    """The new state if `move` may take a row from `old` to `new`; else `ForbiddenMove`."""
    before = None if old is None else SendState(old)
    after = SendState(new)
    allowed_from, allowed_to = _MOVES[move]
    if before not in allowed_from or after not in allowed_to:
        raise ForbiddenMove(
            f"the send ledger's {move} never moves a row from {before or 'no row'} to {after}: "
            f"it moves {sorted(str(s or 'no row') for s in allowed_from)} to {sorted(allowed_to)}"
        )
    return after
