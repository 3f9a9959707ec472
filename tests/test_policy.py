"""The eligibility policy: who may be messaged, and the reason recorded for everyone else."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from vivier.rules.eligibility import CandidateFacts, Reason, exclusion

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
GAP = timedelta(days=6)
PAUSE = timedelta(days=30)
WELCOME = CandidateFacts(candidate_id=1, erased=False, consent="granted", suppressed=False,
                         frequency=None, ledger_status=None, last_contacted_at=None)


def test_consenting_candidate_is_eligible() -> None:
    assert exclusion(WELCOME, NOW, GAP) is None


@pytest.mark.parametrize(("change", "reason"), [
    ({"consent": None}, Reason.no_consent),
    ({"consent": "withdrawn"}, Reason.consent_withdrawn),
    ({"consent": "denied"}, Reason.consent_denied),
    ({"suppressed": True}, Reason.suppressed),
    ({"frequency": "none"}, Reason.pool_none),
    ({"erased": True}, Reason.erased),
    ({"ledger_status": "sent"}, Reason.already_sent),
    ({"ledger_status": "in_doubt"}, Reason.in_doubt),
    ({"ledger_status": "sending"}, Reason.in_flight),
    ({"last_contacted_at": NOW - timedelta(days=2)}, Reason.recently_contacted),
    ({"last_reply_at": NOW - timedelta(days=29)}, Reason.recent_reply),
    ({"held_out": True}, Reason.holdout),
])
def test_each_exclusion_has_its_reason(change: dict, reason: Reason) -> None:
    assert exclusion(replace(WELCOME, **change), NOW, GAP, PAUSE) is reason


def test_a_reply_older_than_the_pause_does_not_block() -> None:
    facts = replace(WELCOME, last_reply_at=NOW - timedelta(days=30))
    assert exclusion(facts, NOW, GAP, PAUSE) is None


def test_the_holdout_only_takes_candidates_who_would_otherwise_be_messaged() -> None:
    # The held-out group must be as eligible as the messaged one, or the uplift lies.
    for change, reason in [({"consent": "withdrawn"}, Reason.consent_withdrawn),
                           ({"ledger_status": "sent"}, Reason.already_sent),
                           ({"last_reply_at": NOW}, Reason.recent_reply)]:
        facts = replace(WELCOME, held_out=True, **change)
        assert exclusion(facts, NOW, GAP, PAUSE) is reason


def test_pending_or_failed_rows_are_sent_again() -> None:
    for status in ("pending", "failed"):
        assert exclusion(replace(WELCOME, ledger_status=status), NOW, GAP) is None


def test_contact_older_than_the_gap_does_not_block() -> None:
    assert exclusion(replace(WELCOME, last_contacted_at=NOW - timedelta(days=6)), NOW, GAP) is None


def test_suppression_wins_over_fresh_consent() -> None:
    facts = replace(WELCOME, suppressed=True, consent="granted")
    assert exclusion(facts, NOW, GAP) is Reason.suppressed
