"""The holdout group: a stable, per-period random share of a segment that is never messaged."""

from __future__ import annotations

import hashlib

_SCALE = float(2**64)


def held_out(candidate_id: int, cadence: str, period_key: str, share: float) -> bool:
    """True when the candidate is in this period's holdout; the same answer on every rerun.

    A hash rather than a random draw: a rerun, a backfill or another worker decides the same,
    and each period draws a fresh group, so nobody is held out for ever.
    """
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{cadence}:{period_key}:{candidate_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE < share
