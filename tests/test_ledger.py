"""The send ledger: every allowed move works, every forbidden one raises or leaves the row alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import builders
from vivier.ledger import moves
from vivier.ledger.states import ALLOWED, NEW, ForbiddenMove, Move, SendState, check_move
from vivier.store.schema import Interaction, Run, Send, utcnow

P, S, OK, F, D = (SendState.pending, SendState.sending, SendState.sent, SendState.failed,
                  SendState.in_doubt)

# The specification, written independently of the module: (from, to) pairs some move allows.
SPEC = {
    (NEW, P), (P, P), (F, P),  # plan (again after a failure)
    (P, S),  # claim
    (P, F),  # lapse: still waiting for its send window when the period's lateness limit passed
    (S, P), (S, OK), (S, F), (S, D),  # release; the transport's answer; lease expired
    (D, OK),  # evidence that it left (reconcile), or an operator's word (mark_sent)
    (D, P),  # operator: resend
    (NEW, OK),  # history recorded elsewhere
}
ROOT = Path(__file__).resolve().parents[1]


def test_the_graph_of_moves_is_exactly_the_specified_one() -> None:
    graph = {(before, after) for before, targets in ALLOWED.items() for after in targets}
    assert graph == SPEC
    assert ALLOWED[OK] == frozenset()  # sent is final: nothing ever sends it again


@pytest.mark.parametrize("move", list(Move))
def test_every_pair_of_states_is_allowed_or_raises_for_every_move(move: Move) -> None:
    for before in (NEW, *SendState):
        for after in SendState:
            try:
                check_move(move, before, after)
            except ForbiddenMove as refused:
                assert str(move) in str(refused) and str(after) in str(refused)
            else:
                assert (before, after) in SPEC, f"{move} allowed {before} -> {after}"


def test_no_move_takes_a_sent_row_anywhere() -> None:
    for move in Move:
        for after in SendState:
            with pytest.raises(ForbiddenMove):
                check_move(move, OK, after)


# --- the same rules, as SQL guards, on a real database -------------------------------------

def _rows_in_every_state(engine: sa.Engine) -> tuple[int, dict[SendState, int]]:
    """One run and five ledger rows of it, one per state; returns the run id and send ids."""
    now = utcnow()
    with engine.begin() as conn:
        run_id = conn.execute(sa.insert(Run).returning(Run.id), {
            "cadence": "weekly", "period_key": "2026-W48", "dry_run": False, "state": "sending",
            "started_at": now, "heartbeat_at": now, "summary": {}}).scalar_one()
    ids = {}
    for state in SendState:
        candidate_id = builders.candidate(engine)
        with engine.begin() as conn:  # test data: written as it would be found, not moved
            ids[state] = conn.execute(sa.insert(Send).returning(Send.id), {
                "candidate_id": candidate_id, "cadence": "weekly", "period_key": "2026-W48",
                "status": str(state), "run_id": run_id, "template": "weekly", "attempts": 1,
                "claimed_at": now}).scalar_one()
    return run_id, ids


def _claim(engine: sa.Engine, run_id: int, flow_run_id: str, size: int) -> list[moves.Claim]:
    """What a sender does: read up to `size` pending rows, claim them (with their Message-ID)."""
    wanted = moves.claimable(engine, run_id, 0, 10**9, size)
    with engine.begin() as conn:
        return moves.claim(conn, run_id, flow_run_id,
                           {row.send_id: f"<weekly.2026-W48.c{row.candidate_id}@x.example>"
                            for row in wanted})


def _states(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(Send.id, Send.status)).all())


def _candidate_of(engine: sa.Engine, send_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(Send.candidate_id).where(Send.id == send_id)).scalar_one()


@pytest.mark.both_dialects
def test_the_ledger_writes_each_move_only_from_its_source_states(engine: sa.Engine) -> None:
    run_id, ids = _rows_in_every_state(engine)
    by_id = {send_id: state for state, send_id in ids.items()}

    def after(changes: dict[SendState, SendState]) -> dict[int, str]:
        return {send_id: str(changes.get(state, state)) for send_id, state in by_id.items()}

    # plan: only pending and failed rows are (re)written; sending, sent, in_doubt are left alone
    with engine.begin() as conn:
        moves.plan(conn, [{"candidate_id": _candidate_of(engine, ids[state]), "cadence": "weekly",
                           "period_key": "2026-W48", "run_id": run_id, "flow_run_id": None,
                           "segment": "default", "template": "weekly", "template_version": "v2",
                           "attempts": 0, "created_at": utcnow()} for state in SendState])
    assert _states(engine) == after({F: P})
    by_id[ids[F]] = P

    # claim: pending rows only (two of them now), exclusive
    readers = [moves.claimable(engine, run_id, 0, 10**9, 10) for _ in range(2)]
    with engine.begin() as conn:
        claimed = moves.claim(conn, run_id, "flow-1", {row.send_id: None for row in readers[0]})
    assert {claim.send_id for claim in claimed} == {ids[P], ids[F]}
    with engine.begin() as conn:  # a second sender that read the same rows gets none of them
        assert moves.claim(conn, run_id, "flow-2", {row.send_id: None for row in readers[1]}) == []
    by_id[ids[P]] = by_id[ids[F]] = S

    # release: sending rows only
    moves.release(engine, list(ids.values()))
    assert _states(engine) == after({S: P})
    by_id = {send_id: SendState(status) for send_id, status in _states(engine).items()}

    # record: only rows still `sending` take the transport's answer
    claimed = _claim(engine, run_id, "flow-1", 1)
    with engine.begin() as conn:
        moves.record(conn, [{"send_id": send_id, "new_status": SendState.sent, "message_id": None,
                             "error": None, "sent_at": utcnow()} for send_id in ids.values()])
    assert _states(engine)[claimed[0].send_id] == OK
    assert _states(engine)[ids[D]] == D and _states(engine)[ids[OK]] == OK

    # expire: sending -> in_doubt only; resolve: in_doubt -> sent / pending only
    (claim,) = _claim(engine, run_id, "flow-1", 1)
    before = _states(engine)
    with engine.begin() as conn:
        moves.expire_claims(conn, list(ids.values()) + [claim.send_id])
    assert _states(engine) == {**before, claim.send_id: str(D)}

    candidate = _candidate_of(engine, claim.send_id)
    assert moves.resolve_in_doubt(engine, "weekly", "2026-W48", "resend", [candidate]) == [candidate]
    assert _states(engine)[claim.send_id] == P
    marked = moves.resolve_in_doubt(engine, "weekly", "2026-W48", "mark_sent")
    assert marked == [_candidate_of(engine, ids[D])]
    assert _states(engine)[ids[D]] == OK
    with engine.connect() as conn:  # every operator decision is on record
        assert conn.scalar(sa.select(sa.func.count()).select_from(Interaction).where(
            Interaction.kind.like("in_doubt_%"))) == 2


@pytest.mark.both_dialects
def test_evidence_moves_only_in_doubt_rows_to_sent_and_is_kept(engine: sa.Engine) -> None:
    run_id, ids = _rows_in_every_state(engine)
    before = _states(engine)
    evidence = {"evidence": "delivered", "event_key": "esp:e1"}
    with engine.begin() as conn:
        assert moves.reconcile(conn, {send_id: evidence for send_id in ids.values()}, utcnow()) \
            == [ids[D]]
    assert _states(engine) == {**before, ids[D]: str(OK)}
    with engine.connect() as conn:
        (kept,) = conn.execute(sa.select(Interaction.send_id, Interaction.details).where(
            Interaction.kind == "in_doubt_reconciled")).all()
    assert kept == (ids[D], evidence)


@pytest.mark.both_dialects
def test_a_forbidden_outcome_raises_and_writes_nothing(engine: sa.Engine) -> None:
    run_id, ids = _rows_in_every_state(engine)
    before = _states(engine)
    with pytest.raises(ForbiddenMove), engine.begin() as conn:
        moves.record(conn, [{"send_id": ids[S], "new_status": SendState.pending, "message_id": None,
                             "error": None, "sent_at": None}])
    assert _states(engine) == before


@pytest.mark.both_dialects
def test_withdrawing_keeps_a_row_an_interaction_points_at(engine: sa.Engine) -> None:
    run_id, ids = _rows_in_every_state(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(Interaction), {
            "candidate_id": _candidate_of(engine, ids[P]), "send_id": ids[P], "kind": "note",
            "occurred_at": utcnow(), "details": {}})
    moves.withdraw_run(engine, run_id)
    with engine.connect() as conn:
        kept = conn.execute(sa.select(Send.id, Send.run_id)).all()
    assert (ids[P], None) in kept  # detached from the run: no sender of it claims the row
    assert {send_id for send_id, _ in kept} == set(ids.values())  # only pending rows are touched


def _writes_to_sends(path: Path) -> list[str]:
    """`insert/update/delete(Send…)` and `Send.__table__` in a module, as `file:line`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in {"insert", "update", "delete"} and node.args and \
                ast.unparse(node.args[0]).split(".")[0] == "Send":  # not SendItem
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        if isinstance(node, ast.Attribute) and node.attr == "__table__" and \
                ast.unparse(node.value) == "Send":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_only_the_ledger_module_writes_the_sends_table() -> None:
    code = [path for folder in ("vivier", "app", "flows", "tasks", "demo", "data_checks")
            for path in (ROOT / folder).rglob("*.py")]
    writers = sorted(place for path in code if "ledger" not in path.parts
                     for place in _writes_to_sends(path))
    assert writers == []
    assert _writes_to_sends(ROOT / "vivier" / "ledger" / "moves.py")  # the scan does see writes


@pytest.mark.both_dialects
def test_send_windows_decide_what_is_claimable_adopted_and_lapsed(engine: sa.Engine) -> None:
    from datetime import timedelta

    run_id, ids = _rows_in_every_state(engine)
    now = utcnow()
    early, due, later, missed, legacy = (builders.candidate(engine) for _ in range(5))
    timed = {early: now - timedelta(days=9), due: now - timedelta(minutes=5),
             later: now + timedelta(hours=5), missed: now - timedelta(hours=3), legacy: None}
    with engine.begin() as conn:
        moves.plan(conn, [{"candidate_id": cid, "cadence": "weekly", "period_key": "2026-W48",
                           "run_id": run_id, "flow_run_id": None, "segment": "default",
                           "template": "weekly", "template_version": "v1", "attempts": 0,
                           "created_at": now, "not_before": at, "zone": "Europe/Paris",
                           "send_by": now - timedelta(days=1) if cid == early else None}
                          for cid, at in timed.items()])
    window = moves.Due(now, timedelta(hours=2, minutes=30))
    # The window is open for `due`; `missed` closed an hour ago; a row without one leaves at once.
    claimable = {claim.candidate_id for claim in moves.claimable(engine, run_id, 0, 10**9, 50, window)}
    assert claimable == {due, legacy, _candidate_of(engine, ids[P])}
    with engine.connect() as conn:
        assert {cid for _, cid in moves.missed_window(conn, "weekly", window)} == {early, missed}

    with engine.begin() as conn:  # past its period's lateness limit: failed, never sent; once
        assert moves.lapse(conn, now) == [("weekly", "2026-W48", "Europe/Paris")]
        assert moves.lapse(conn, now) == []
    assert _states(engine)[ledger_row(engine, early)] == F

    with engine.begin() as conn:
        deliver_run = conn.execute(sa.insert(Run).returning(Run.id), {
            "cadence": "weekly", "period_key": "2026-W48", "dry_run": False, "kind": "deliver",
            "state": "planning", "started_at": now, "heartbeat_at": now, "summary": {}}).scalar_one()
    with engine.begin() as conn:  # a run still at work keeps its rows; other due rows change hands
        assert moves.adopt_due(conn, deliver_run, "weekly", "2026-W48", window, 0, 10**9, [run_id]) == 0
        assert moves.adopt_due(conn, deliver_run, "weekly", "2026-W48", window, 0, 10**9, []) == 3
    with engine.connect() as conn:
        owners = dict(conn.execute(sa.select(Send.candidate_id, Send.run_id)).all())
    assert {cid for cid, owner in owners.items() if owner == deliver_run} == {
        due, legacy, _candidate_of(engine, ids[P])}
    assert owners[later] == run_id and owners[missed] == run_id  # not due: still the planner's


def ledger_row(engine: sa.Engine, candidate_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(Send.id).where(Send.candidate_id == candidate_id)).scalar_one()
