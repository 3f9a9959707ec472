"""Plan one batch of a survey kind: the cadence planning, with the survey's audience and rule.

Decisions and pending ledger rows go through `planning.plan_batch`, and
`delivery.deliver_batch` sends them: one ledger, one set of checks, one renderer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from vivier.pipeline import extract
from vivier.pipeline.plan import Audience, plan_batch
from vivier.pipeline.resources import Resources
from vivier.pipeline.runs import RunSpec
from vivier.pipeline.survey import TEMPLATES, audience, survey_exclusion
from vivier.pipeline.tally import Tally
from vivier.rules.eligibility import CandidateFacts
from vivier.settings import Settings
from vivier.store.schema import Candidate, Preference


def survey_audience(settings: Settings) -> Audience:
    """A survey kind's audience: undecided (or renewing) candidates, one template, no holdout."""

    def read(conn: Connection, spec: RunSpec, lo: int, hi: int, now: datetime) -> list[dict[str, Any]]:
        query = audience(spec.cadence, spec.period_key, now, settings, *extract.CANDIDATE_COLUMNS,
                         Preference.frequency, Preference.privileged)
        return [dict(row._mapping) for row in conn.execute(
            query.where(Candidate.id > lo, Candidate.id <= hi).order_by(Candidate.id))]

    def rule(facts: CandidateFacts, now: datetime, settings: Settings, kind: str) -> str | None:
        return survey_exclusion(kind, facts, now, timedelta(days=settings.contact_gap_days))

    return Audience(read=read, rule=rule, template=lambda tools, segment, kind: TEMPLATES[kind],
                    holdout=False)


def plan_survey_batch(
    resources: Resources, spec: RunSpec, lo: int, hi: int, now: datetime | None = None,
) -> Tally:
    """Decide for this kind's audience in `(lo, hi]`: decisions, and pending sends unless dry."""
    return plan_batch(resources, spec, lo, hi, survey_audience(resources.settings), now)
