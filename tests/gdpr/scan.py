"""Find a person's identifiers anywhere in the database: every column of every table, introspected."""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa


def _texts(value: Any) -> list[str]:
    """The value as text, and JSON text decoded again (escaped accents become letters)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    found = [text]
    if text[:1] in "[{\"":
        with contextlib.suppress(ValueError):
            found.append(json.dumps(json.loads(text), ensure_ascii=False))
    return found


def _reflect(engine: sa.Engine) -> sa.MetaData:
    """The database as it is, not as the models say (expression indexes need not be read)."""
    metadata = sa.MetaData()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        metadata.reflect(engine)
    return metadata


def traces(engine: sa.Engine, needles: Iterable[str]) -> list[str]:
    """`table.column #row: needle` for every stored value that contains one of the needles."""
    wanted = [needle.casefold() for needle in needles if needle]
    metadata = _reflect(engine)
    found = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)).mappings():
                for column, value in row.items():
                    if value is None:
                        continue
                    for text in _texts(value):
                        hits = [needle for needle in wanted if needle in text.casefold()]
                        found += [f"{table.name}.{column}: {needle}" for needle in hits]
    return sorted(set(found))


def scanned_tables(engine: sa.Engine) -> set[str]:
    return set(_reflect(engine).tables)
