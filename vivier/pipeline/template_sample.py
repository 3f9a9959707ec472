"""`vivier templates check` on real candidates: a random sample of each cadence's pool, rendered
with the template their segment uses, in every language of that template, from the context a
run builds (today's period and catalog, what earlier messages showed them).

A finding names the template, the language, the kind of problem and the candidate ids, never
a value taken from their data: a long subject is "subject over 78 characters", not the subject.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import UndefinedError
from sqlalchemy import Connection, select

from vivier.messages.catalog import load_catalog
from vivier.messages.checks import Finding, message_problems
from vivier.messages.context import Period, render_context
from vivier.messages.rendering import Renderer
from vivier.messages.shown import NOTHING_SHOWN, shown_to
from vivier.messages.template_env import TemplateProblem
from vivier.pipeline.extract import CANDIDATE_COLUMNS, first_holders, in_pool
from vivier.pipeline.plan import _frame  # the very frame a run validates
from vivier.pipeline.resources import Resources
from vivier.rules.cadences import CADENCES, period_key, period_start, today_in
from vivier.store.schema import Candidate, Preference

IDS_SHOWN = 10  # candidate ids listed per finding
_SHUFFLE_FACTOR, _SHUFFLE_MODULUS = 7919, 10007  # primes: ids spread, in SQL on both databases


@dataclass
class RealCheck:
    """How many candidates and renders the sample took, and what it found."""

    candidates: int
    renders: int
    findings: list[Finding]
    quarantined: int = 0  # sampled, but their data fails the checks: no run renders them


def sample_pool(conn: Connection, cadence: str, size: int) -> list[dict[str, Any]]:
    """Up to `size` candidates of the cadence's pool (erased people aside), spread over it by a
    fixed shuffle of the ids: the same database gives the same sample, so the check's answer
    does not change from one call to the next."""
    shuffle = (Candidate.id * _SHUFFLE_FACTOR) % _SHUFFLE_MODULUS
    query = (select(*CANDIDATE_COLUMNS, Preference.frequency, Preference.privileged)
             .outerjoin(Preference, Preference.candidate_id == Candidate.id)
             .where(in_pool(cadence)).order_by(shuffle, Candidate.id).limit(size))
    people = [dict(row._mapping) for row in conn.execute(query)]
    holders = first_holders(conn, (person["email"] for person in people if person["email"]))
    for person in people:  # the data checks' unique-address rule, as planning reads it
        first = holders.get((person["email"] or "").lower())
        person["duplicate_of"] = first if first is not None and first != person["id"] else None
    return people


def check_real_candidates(resources: Resources, size: int, now: datetime) -> RealCheck:
    """Render each sampled candidate's template in every language and list what went wrong.

    Candidates whose data fails the data checks are left out, as a run quarantines them.
    """
    settings, segments, renderer = resources.settings, resources.segments, resources.renderer
    today = today_in(settings.zone, now)
    failing: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    candidates = renders = quarantined = 0
    with resources.engine.connect() as conn:
        catalog = load_catalog(conn, today, settings.zone,  # as a run's (Resources.catalog)
                               timedelta(days=settings.privileged_head_start_days))
        for cadence in CADENCES:
            sampled = sample_pool(conn, cadence, size)
            invalid = resources.validate(_frame(sampled), now).failures if sampled else {}
            people = [person for person in sampled if person["id"] not in invalid]
            quarantined += len(sampled) - len(people)
            shown = shown_to(conn, [person["id"] for person in people])
            key = period_key(cadence, today)
            period = Period(cadence, key, period_start(cadence, key))
            for person in people:
                candidates += 1
                person["segment"] = segments.assign(person)
                template = segments.template(person["segment"], cadence)
                context = render_context(person, catalog, settings, period, today,
                                         shown.get(person["id"], NOTHING_SHOWN))
                for language in _languages(renderer.templates_dir, template):
                    renders += 1
                    for problem in _problems(renderer, template, language, context):
                        failing[(template, language, problem)].append(person["id"])
    findings = [Finding(template, language, f"{problem} (real candidates {_ids(ids)})")
                for (template, language, problem), ids in sorted(failing.items())]
    return RealCheck(candidates, renders, findings, quarantined)


def _problems(renderer: Renderer, template: str, language: str, context: dict[str, Any]) -> list[str]:
    """The kinds of problem of one render: the error's type and place (an undefined variable's
    name), or each message problem without the value that shows it."""
    try:
        message = renderer.render(template, language, context)
    except TemplateProblem as problem:
        if isinstance(problem.__cause__, UndefinedError):
            return [problem.problem.split(" (fix the template", 1)[0]]
        return [problem.problem.split(": ", 1)[0]]  # "TypeError in weekly/fr/body.html line 3"
    return sorted({found.split(": ", 1)[0] for found in message_problems(message, context)})


def _languages(templates_dir: Path, template: str) -> list[str]:
    folder = Path(templates_dir) / template
    return sorted(sub.name for sub in folder.iterdir() if sub.is_dir()) if folder.is_dir() else []


def _ids(ids: list[int]) -> str:
    listed = ", ".join(str(candidate_id) for candidate_id in sorted(ids)[:IDS_SHOWN])
    return listed + (f" and {len(ids) - IDS_SHOWN} more" if len(ids) > IDS_SHOWN else "")
