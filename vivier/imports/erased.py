"""Who may not be imported again: erased people, known by the keyed hashes they left.

Erasure (and the retention flow) leave keyed hashes of the address and of the ATS id in
`erasure_keys` (`vivier.gdpr.anonymise`); a row matching one is rejected and nothing of it
is stored, whatever ATS id it comes under. ATS ids compare without case
(`vivier.rules.identity.normalise_ats_id`), addresses lower-cased.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from vivier.gdpr.anonymise import erasure_keys_of
from vivier.rules.identity import ErasureKeys
from vivier.settings import get_settings
from vivier.store.schema import ErasureKey
from vivier.store.sql import one_of


@dataclass(frozen=True)
class Erasure:
    """When and why a person was erased: what a refused row's reason says."""

    erased_at: datetime
    source: str

    def reason(self, matched: str) -> str:
        day = self.erased_at.date().isoformat()
        why = (f"this person asked to be erased on {day}" if self.source == "request" else
               f"this person's profile was anonymised on {day} ({self.source})")
        return (f"candidate was erased: {why} (same {matched}); nothing was stored: "
                "remove them from the ATS export")


def default_keys(keys: ErasureKeys | None) -> ErasureKeys:
    """The keys given, else those of the process settings."""
    return keys if keys is not None else erasure_keys_of(get_settings())


def erased_among(
    conn: Connection, keys: ErasureKeys, kind: str, values: Iterable[str]
) -> dict[str, Erasure]:
    """The values (addresses or ATS ids) that belong to an erased person, with their erasure."""
    digests = {digest: value for value in set(values) if value.strip()
               for digest in keys.candidates(kind, value)}
    if not digests:
        return {}
    found: dict[str, Erasure] = {}
    for digest, erased_at, source in conn.execute(
            select(ErasureKey.digest, ErasureKey.erased_at, ErasureKey.source)
            .where(one_of(ErasureKey.digest, list(digests)), ErasureKey.kind == kind)):
        found[digests[digest]] = Erasure(erased_at, source)
    return found
