"""`one_of`: the same answers as an IN list on both databases, also when a statement is reused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.builders import many_candidates
from vivier.store.schema import Candidate
from vivier.store.sql import one_of

pytestmark = pytest.mark.both_dialects  # an IN list on SQLite, an array on PostgreSQL


def test_one_of_finds_exactly_the_listed_candidates_each_time_a_statement_is_reused(
    engine: sa.Engine,
) -> None:
    ids = many_candidates(engine, 30)
    key = sa.func.lower(Candidate.email)
    with engine.connect() as conn:
        for wanted in (ids[:3], ids[10:25], [], [ids[-1], -5]):  # same SQL shape, cached plan
            found = conn.execute(sa.select(Candidate.id).where(one_of(Candidate.id, wanted)))
            assert sorted(found.scalars()) == sorted(set(wanted) & set(ids))
        emails = {f"b{n}@example.org" for n in (0, 7)} | {"nobody@example.org"}
        found = conn.execute(sa.select(Candidate.id).where(one_of(key, emails)))
        assert sorted(found.scalars()) == [ids[0], ids[7]]


def test_one_of_is_one_array_parameter_on_postgresql_and_an_in_list_on_sqlite() -> None:
    condition = one_of(Candidate.id, range(5000))
    from sqlalchemy.dialects import postgresql, sqlite

    assert "= ANY(" in str(condition.compile(dialect=postgresql.dialect()))
    assert " IN " in str(condition.compile(dialect=sqlite.dialect()))
