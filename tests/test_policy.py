"""The eligibility policy: who may be messaged, and the reason recorded for everyone else."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from vivier.rules.eligibility import (
    ApplicationFact,
    ApplicationPauses,
    CandidateFacts,
    Reason,
    application_hold,
    exclusion,
)

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


# --- applications from the ATS ----------------------------------------------------------------

PAUSES = ApplicationPauses(hired_months=12, after_process=timedelta(days=30))


def applied(*applications: tuple[str, str, timedelta]) -> CandidateFacts:
    """The welcome candidate with applications (job, outcome, how long ago it was reached)."""
    return replace(WELCOME, applications=tuple(
        ApplicationFact(job, outcome, NOW - ago) for job, outcome, ago in applications))


@pytest.mark.parametrize("outcome", ["applied", "screening", "interview", "offer"])
def test_an_open_application_is_in_process_however_old(outcome: str) -> None:
    facts = applied(("J-1", outcome, timedelta(days=900)))
    assert exclusion(facts, NOW, GAP, PAUSE, PAUSES) is Reason.in_process
    hold = application_hold(facts.applications, NOW, PAUSES)
    assert hold is not None and hold.until is None
    assert hold.describe() == f"job J-1: {outcome} (open application)"


def test_a_hire_pauses_for_its_months_to_the_day() -> None:
    hired_on = datetime(2025, 11, 25, 9, 0, tzinfo=UTC)
    facts = replace(WELCOME, applications=(ApplicationFact("J-1", "hired", hired_on),))
    hold = application_hold(facts.applications, NOW - timedelta(seconds=1), PAUSES)
    assert hold is not None and hold.reason is Reason.recently_hired
    assert hold.until == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert exclusion(facts, NOW, GAP, PAUSE, PAUSES) is None  # 12 months on: a former candidate


@pytest.mark.parametrize("outcome", ["rejected", "withdrawn"])
def test_a_rejection_or_withdrawal_holds_for_the_delay_then_not(outcome: str) -> None:
    lately = applied(("J-1", outcome, timedelta(days=29)))
    long_ago = applied(("J-1", outcome, timedelta(days=30)))
    assert exclusion(lately, NOW, GAP, PAUSE, PAUSES) is Reason.in_process
    assert exclusion(long_ago, NOW, GAP, PAUSE, PAUSES) is None


def test_any_open_application_holds_whatever_else_ended() -> None:
    facts = applied(("J-1", "hired", timedelta(days=900)), ("J-2", "interview", timedelta(days=1)),
                    ("J-3", "rejected", timedelta(days=400)))
    hold = application_hold(facts.applications, NOW, PAUSES)
    assert hold is not None and (hold.reason, hold.application.job_ref) == (Reason.in_process, "J-2")


def test_the_latest_outcome_wins() -> None:
    rejected_after_hire = applied(("J-1", "hired", timedelta(days=200)),
                                  ("J-2", "rejected", timedelta(days=60)))
    assert exclusion(rejected_after_hire, NOW, GAP, PAUSE, PAUSES) is None
    hired_after_rejection = applied(("J-1", "rejected", timedelta(days=5)),
                                    ("J-2", "hired", timedelta(days=2)))
    assert exclusion(hired_after_rejection, NOW, GAP, PAUSE, PAUSES) is Reason.recently_hired


def test_applications_count_only_when_the_caller_gives_the_pauses() -> None:
    # The consent survey asks undecided people; it does not weigh applications.
    assert exclusion(applied(("J-1", "offer", timedelta(days=1))), NOW, GAP, PAUSE) is None


def test_consent_and_the_ledger_are_reported_before_an_application() -> None:
    facts = replace(applied(("J-1", "offer", timedelta(days=1))), consent="withdrawn")
    assert exclusion(facts, NOW, GAP, PAUSE, PAUSES) is Reason.consent_withdrawn
    facts = replace(applied(("J-1", "offer", timedelta(days=1))), held_out=True)
    assert exclusion(facts, NOW, GAP, PAUSE, PAUSES) is Reason.in_process  # never in the holdout
