"""A run of one period, step by step: open → plan → gate → deliver → summary, with the notes a
stopped run leaves. The Prefect flows run these steps as tasks (flows/lifecycle.py);
`run_period()` runs them in a plain loop, for tests and the bench (a preview decides without a
run: pipeline/preview.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from vivier.messages.catalog import load_catalog
from vivier.messages.context import sender_domain
from vivier.messages.mime import HeaderInjection, OutgoingMessage, build_mime, message_id_for
from vivier.messages.tokens import unsubscribe_url
from vivier.pipeline import deliver, extract, incremental, plan, runs
from vivier.pipeline.guardrails import DeliverabilityStop
from vivier.pipeline.resources import Resources
from vivier.pipeline.runs import RunSpec
from vivier.pipeline.summary import RunSummary
from vivier.pipeline.tally import Tally
from vivier.rules.cadences import CADENCES, check_lateness, period_key, period_start, today_in
from vivier.rules.segments import DEFAULT_SEGMENT
from vivier.settings import SettingsError
from vivier.store import files
from vivier.store.bulk import refresh_statistics
from vivier.store.schema import utcnow
from vivier.transports import TransportRefused, TransportUnavailable

log = logging.getLogger(__name__)
Bound = tuple[int, int]  # a batch: candidates with lo < id <= hi


class RunStopped(RuntimeError):
    """The run stopped before its end; `notes` (markdown) say why and what to do next."""

    def __init__(self, notes: list[str]) -> None:
        super().__init__(" ".join(notes).replace("**", ""))
        self.notes = notes

    def __reduce__(self) -> tuple[Any, ...]:  # travels from task runs and workers intact
        return (RunStopped, (self.notes,))


def open_spec(
    resources: Resources, cadence: str, key: str, start: date, day: date, dry_run: bool,
    flow_run_id: str | None = None, segments: Sequence[str] | None = None,
    now: datetime | None = None, clock: datetime | None = None, *, limit: int | None = None,
) -> RunSpec:
    """Record the run in `runs` and fix its "now" (default: the clock's): every batch judges
    dates the same way. `clock` (demo, tests) is the instant whose send windows count instead
    of that "now", without moving it.

    A run of a cadence's whole pool (not dry, no segment or limit) marks what it reads, to be
    the basis of the period's next rerun; a rerun of a period with a basis is incremental."""
    run_id = runs.open_run(resources.engine, cadence, key, dry_run, flow_run_id)
    spec = RunSpec(run_id=run_id, cadence=cadence, period_key=key, period_start=start, as_of=day,
                   dry_run=dry_run, flow_run_id=flow_run_id,
                   segments=tuple(segments) if segments else None, started_at=now or utcnow(),
                   clock=clock)
    if dry_run or segments or limit is not None or cadence not in CADENCES:
        return spec
    with resources.engine.connect() as conn:
        marks = incremental.take_marks(conn, resources.settings)
        basis = incremental.latest_basis(conn, cadence, key)
    usable = incremental.usable_basis(basis, marks) if resources.settings.replan_incremental else None
    return replace(spec, marks=marks.to_dict(), basis=usable)


def plan_scope(resources: Resources, spec: RunSpec, limit: int | None = None
               ) -> tuple[list[Bound], Tally]:
    """The batches to plan, and the counts of the candidates a rerun does not plan again.

    A first run plans the whole pool in batches of VIVIER_BATCH_SIZE; a rerun with a basis,
    only who may decide differently now (`incremental`), the others keeping their outcome."""
    settings = resources.settings
    with resources.engine.connect() as conn:
        if spec.basis is None or spec.marks is None:
            return extract.batch_bounds(conn, spec.cadence, settings.batch_size, limit), Tally()
        scope = incremental.split(conn, spec, spec.basis, incremental.Marks(**spec.marks), settings,
                                  spec.started_at or utcnow())
    return incremental.replan_bounds(scope.ids, settings.batch_size), scope.kept


def preflight(resources: Resources, spec: RunSpec) -> None:
    """Before anything is planned: the link keys and one message's headers, from the settings;
    for a dry run, the samples folder (0700, samples older than VIVIER_SAMPLES_KEEP_DAYS purged).

    A setting that would fail every message stops the run here, saying what to fix, instead of
    failing each send after its row was claimed. Raises `RunStopped`.
    """
    settings = resources.settings
    try:
        settings.require_signing_keys()
        probe = OutgoingMessage(
            send_id=0, candidate_id=0, to_address="preflight@vivier.invalid", to_name="Preflight",
            subject="preflight", html="", text="", locale="en",
            message_id=message_id_for(spec.cadence, spec.period_key, 0, sender_domain(settings)),
            unsubscribe_url=unsubscribe_url(settings, 0), date=utcnow(),
        )
        build_mime(probe, settings.sender_address, settings.sender_name_for(probe.locale))
        if spec.dry_run:  # samples hold personal data: an owner-only folder, kept a few days
            files.private_folder(settings.samples_dir)
            files.purge_older_than(settings.samples_dir, settings.samples_keep_days)
    except OSError as problem:
        raise RunStopped([f"**Stopped before planning:** cannot prepare the samples folder "
                          f"{settings.samples_dir}: {problem.strerror}; check VIVIER_SAMPLES_DIR"]) from None
    except SettingsError as problem:
        raise RunStopped([f"**Stopped before planning:** {problem}"]) from None
    except HeaderInjection as problem:
        raise RunStopped([f"**Stopped before planning:** no message can be built with these "
                          f"settings ({problem}); check VIVIER_SENDER_ADDRESS and "
                          "VIVIER_PUBLIC_BASE_URL"]) from None


def check_transport(resources: Resources, spec: RunSpec, tally: Tally) -> None:
    """Before the first claim: the way out works (SMTP answers NOOP, the Maildir is writable)."""
    try:
        resources.transport.check()
    except TransportUnavailable as problem:
        raise RunStopped([
            f"**Stopped before sending:** the {resources.transport.name} transport is not ready: "
            f"{problem}",
            f"0 of {tally.stages['planned']:,} sent (nothing was claimed). Rerun "
            f"`{rerun_hint(spec)}` once it is fixed.",
        ]) from None


def new_summary(spec: RunSpec, label: str | None = None) -> RunSummary:
    """The run's summary, filled as it goes; `label` names it in the UI (default: the cadence)."""
    return RunSummary(label or spec.cadence, spec.period_key, spec.as_of.isoformat(), spec.dry_run,
                      spec.run_id, spec.flow_run_id, Tally())


def gate(resources: Resources, spec: RunSpec, tally: Tally) -> None:
    """Stop before anything leaves when the data checks failed too often or nothing renders;
    the plan is withdrawn so that nobody delivers it."""
    from data_checks import quality_gate

    # Rows already sent this period count as passing: they did, in the run that sent them.
    checked = tally.stages["extracted"] - tally.stages["outside_segments"]
    try:
        quality_gate(checked, dict(tally.checks), tally.stages["invalid"],
                     resources.settings.quality_threshold)
        failures = tally.reasons["render_error"]
        if failures and tally.stages["planned"] == 0:
            raise RuntimeError(
                f"every candidate failed to render ({failures}): the template is broken; see the "
                "quarantine table for the error, fix the template and rerun"
            )
    except Exception:
        withdraw(resources, spec)
        raise


def withdraw(resources: Resources, spec: RunSpec) -> None:
    """Drop the run's pending ledger rows: a half-made or refused plan is delivered by nobody."""
    if not spec.dry_run:
        runs.release_plan(resources.engine, spec.run_id)


def rerun_hint(spec: RunSpec) -> str:
    """How to finish this run's period, in the UI and on a command line (nothing is sent twice)."""
    day = spec.as_of.isoformat()
    if spec.cadence in CADENCES:
        return (f"Retry this flow run in the Prefect UI, or `prefect deployment run nurture/{spec.cadence} "
                f"--param as_of={day}`, or `vivier run {spec.cadence} --as-of {day}`")
    return (f"Retry this flow run in the Prefect UI, or `prefect deployment run "
            f"consent-survey/consent-survey --param as_of={day}`")


def failures_line(tally: Tally, top: int = 3) -> str:
    """The commonest failure reasons with their counts (reply codes and words, never an address)."""
    return "; ".join(f"{reason} ×{count:,}" for reason, count in tally.failures.most_common(top))


def check_failed_share(resources: Resources, spec: RunSpec, tally: Tally) -> None:
    """Green means sent: a run whose failed share passes the setting fails, saying why."""
    settings = resources.settings
    failed = tally.stages["failed"]
    attempted = sum(tally.stages[outcome] for outcome in ("sent", "failed", "hard_bounce", "in_doubt"))
    if attempted < settings.failed_min_sample or failed / attempted <= settings.failed_share_limit:
        return
    raise RunStopped([
        f"**{failed:,} of {attempted:,} messages failed** ({failed / attempted:.1%}, above "
        f"VIVIER_FAILED_SHARE_LIMIT={settings.failed_share_limit:.1%}): {failures_line(tally)}.",
        f"{tally.stages['sent']:,} sent. Fix the cause (see the failures by reason), then "
        f"{rerun_hint(spec)[0].lower()}{rerun_hint(spec)[1:]}: only the failed and unsent are sent.",
    ])


def guardrail_notes(spec: RunSpec, tally: Tally, stop: DeliverabilityStop) -> list[str]:
    attempted = sum(tally.stages[outcome] for outcome in ("sent", "failed", "hard_bounce", "in_doubt"))
    left = tally.stages["planned"] - attempted
    return [
        f"**Sending stopped by a deliverability guardrail:** {stop}",
        f"{tally.stages['sent']:,} sent; {left:,} left pending. When the cause is dealt with: "
        f"{rerun_hint(spec)}. Only those are sent.",
    ]


def batch_failure_notes(spec: RunSpec, tally: Tally, problems: list[Exception]) -> list[str]:
    return [
        f"**{len(problems)} batch(es) failed:** {problems[0]}",
        f"{tally.stages['sent']:,} of {tally.stages['planned']:,} sent. To finish: {rerun_hint(spec)}. "
        "Only candidates not yet sent are sent.",
    ]


def refusal_notes(spec: RunSpec, tally: Tally, refused: TransportRefused) -> list[str]:
    attempted = sum(tally.stages[outcome] for outcome in ("sent", "failed", "hard_bounce", "in_doubt"))
    return [
        f"**Sending stopped: the mail server refuses every message.** {refused}",
        f"{tally.stages['sent']:,} sent; {tally.stages['planned'] - attempted:,} left pending. "
        f"Once fixed: {rerun_hint(spec)}. Only those are sent.",
    ]


def collect_deliveries(tally: Tally, outcomes: Iterable[Tally | BaseException]) -> None:
    """Add up the batches' outcomes; a guardrail stop, a server refusing everything or failed
    batches stop the run after."""
    stop: DeliverabilityStop | TransportRefused | None = None
    problems: list[Exception] = []
    for outcome in outcomes:
        if isinstance(outcome, DeliverabilityStop | TransportRefused):
            stop = stop or outcome
        elif isinstance(outcome, Exception):
            problems.append(outcome)
        elif isinstance(outcome, Tally):
            tally.add(outcome)
    if stop is not None:
        raise stop
    if problems:
        raise BatchesFailed(problems)


class BatchesFailed(RuntimeError):
    """Some send batches failed; the others went on."""

    def __init__(self, problems: list[Exception]) -> None:
        super().__init__(str(problems[0]))
        self.problems = problems

    def __reduce__(self) -> tuple[Any, ...]:
        return (BatchesFailed, (self.problems,))


def delivery_stopped(spec: RunSpec, tally: Tally, problem: Exception) -> RunStopped:
    """What a run whose delivery stopped says, and raises: the cause, what was sent, what to do."""
    if isinstance(problem, DeliverabilityStop):
        return RunStopped(guardrail_notes(spec, tally, problem))
    if isinstance(problem, TransportRefused):
        return RunStopped(refusal_notes(spec, tally, problem))
    if isinstance(problem, BatchesFailed):
        return RunStopped(batch_failure_notes(spec, tally, problem.problems))
    return RunStopped([f"**Stopped while sending:** {problem}"])


def segment_notes(resources: Resources, spec: RunSpec, tally: Tally) -> list[str]:
    """Segments that took nobody in this run (a typo, or a segment above shadowing them): said
    in the summary, not fatal; `vivier segments check` tells which."""
    if spec.segments or not tally.stages["extracted"] or spec.cadence not in CADENCES:
        return []
    idle = [name for name in resources.segments.names
            if name != DEFAULT_SEGMENT and not sum(tally.segments.get(name, {}).values())]
    if not idle:
        return []
    return [f"**Segments:** {', '.join(f'`{name}`' for name in idle)} took nobody in this run: "
            "run `vivier segments check` to see what they match and which segment shadows them."]


def catalog_notes(resources: Resources, spec: RunSpec, tally: Tally) -> list[str]:
    """An empty catalog, or feeds with nothing recent: said in the summary, not fatal. Nothing new
    is sent either way (`nothing_new`): a feed outage must not bring back empty messages."""
    if spec.cadence not in CADENCES or not tally.stages["extracted"]:
        return []
    settings = resources.settings
    with resources.engine.connect() as conn:  # read here: the batches' catalog may live in workers
        catalog = load_catalog(conn, spec.as_of, settings.zone)
    if catalog.is_empty():
        return [f"**No openings and no content** open on {spec.as_of}: nothing new to send "
                f"({tally.reasons['nothing_new']:,} candidates `nothing_new`). Load the feeds "
                "(`vivier import jobs|content`, or check the `sync-feeds` runs and "
                f"VIVIER_JOBS_FEED / VIVIER_CONTENT_FEED), then: {rerun_hint(spec)}."]
    since = datetime.combine(spec.as_of, datetime.max.time(), settings.zone) - timedelta(
        days=settings.feeds_stale_days)
    stale = [f"{name} (newest published {newest:%Y-%m-%d})" if newest else f"{name} (none)"
             for name, newest in (("openings", catalog.newest_job),
                                  ("content", catalog.newest_content))
             if newest is None or newest < since]
    if not stale:
        return []
    return [f"**Feeds look stale:** nothing published in the last {settings.feeds_stale_days} days "
            f"for {' and '.join(stale)}. Check the `sync-feeds` runs and the feeds themselves "
            "(VIVIER_JOBS_FEED, VIVIER_CONTENT_FEED)."]


def finish(summary: RunSummary, started: float) -> RunSummary:
    summary.outcome = "planned" if summary.dry_run else "completed"
    summary.seconds = time.monotonic() - started
    return summary


@dataclass(frozen=True)
class Batches:
    """How a run's batches are carried out: a plain loop here, Prefect task windows in flows/."""

    plan: Callable[[list[Bound]], Iterable[Tally]]  # each planned batch's counts
    deliver: Callable[[list[Bound], int], Iterable[Tally | BaseException]]  # (bounds, planned)
    gate: Callable[[Tally], None]  # `gate` (withdraws the plan when it refuses)
    withdraw: Callable[[], None]  # `withdraw`: drop the run's plan
    log: logging.Logger | logging.LoggerAdapter[Any]


def carry_out(resources: Resources, spec: RunSpec, summary: RunSummary, bounds: list[Bound],
              batches: Batches, kept: Tally | None = None) -> None:
    """The one lifecycle of a run: preflight → plan → gate → transport check → deliver → failed
    share. Every stop leaves its notes (why, and what to do) on `summary`, then raises.

    `kept`: the counts of the candidates an incremental rerun does not plan again (`plan_scope`):
    the gate and the summary see the whole pool, as after a full plan."""
    tally = summary.tally
    if kept is not None:
        tally.add(kept)
    try:
        preflight(resources, spec)  # keys and headers: before any row is written
        try:
            for counts in batches.plan(bounds):
                tally.add(counts)
        except Exception:
            batches.withdraw()  # a half-made plan must not be delivered by anyone
            raise
        batches.log.info("%s %s: planned %d of %d candidates", summary.cadence, spec.period_key,
                         tally.stages["planned"], tally.stages["extracted"])
        for note in segment_notes(resources, spec, tally) + catalog_notes(resources, spec, tally):
            summary.notes.append(note)
            batches.log.warning(note.replace("**", "").replace("`", ""))
        try:
            batches.gate(tally)
        except Exception as problem:  # the gate's own error goes on, as callers know it
            summary.notes = [f"**Stopped before sending:** {problem}"]
            raise
        incremental.record_basis(resources.engine, spec)  # the period's next rerun builds on it
        if spec.dry_run or not tally.stages["planned"]:
            return
        refresh_statistics(resources.engine, "sends")  # the plan's rows, before every claim
        check_transport(resources, spec, tally)  # before the first claim
        try:
            collect_deliveries(tally, batches.deliver(bounds, tally.stages["planned"]))
        except Exception as problem:
            raise delivery_stopped(spec, tally, problem) from problem
        check_failed_share(resources, spec, tally)  # green means sent
    except RunStopped as stopped:
        summary.notes = stopped.notes
        raise


def run_period(
    resources: Resources, cadence: str, day: date, *, dry_run: bool = False,
    segments: Sequence[str] | None = None, limit: int | None = None, force: bool = False,
    now: datetime | None = None, clock: datetime | None = None,
) -> RunSummary:
    """A whole cadence run, without Prefect: `carry_out` with its batches in a plain loop.

    `now` is the run's clock (default: the real one); a test gives the scheduled instant.

    Raises what the flow would (the gate's error, or `RunStopped` with the summary's notes);
    the summary is stored with the run either way.
    """
    started = time.monotonic()
    settings = resources.settings
    key = period_key(cadence, day)
    check_lateness(cadence, key, today_in(settings.zone, now), settings.lateness_days(cadence), force)
    if segments:
        resources.segments.check_selection(segments)
    spec = open_spec(resources, cadence, key, period_start(cadence, key), day, dry_run,
                     segments=segments, now=now, clock=clock, limit=limit)
    summary = new_summary(spec)
    batches = local_batches(resources, spec, lambda lo, hi: plan.plan_batch(resources, spec, lo, hi))

    scope: dict[str, Tally] = {}

    def bounds() -> list[Bound]:  # a rerun: only who may decide differently (`plan_scope`)
        chosen, scope["kept"] = plan_scope(resources, spec, limit)
        return chosen

    return carry_out_here(resources, spec, summary, bounds, batches, started,
                          kept=lambda: scope.get("kept"))


def local_batches(resources: Resources, spec: RunSpec, plan_one: Callable[[int, int], Tally],
                  delivers_only: bool = False) -> Batches:
    """`carry_out`'s batches in a plain loop in this process. `delivers_only`: a deliver run,
    whose rows were planned and gated by their cadence's run: it has no gate and withdraws nothing."""

    def deliver_here(bounds: list[Bound], planned: int) -> Iterator[Tally | BaseException]:
        with resources.transport.open() as session:
            yield from _each_batch(resources, spec, bounds, session)

    def nothing(*_: Any) -> None:
        return None

    return Batches(
        plan=lambda bounds: (plan_one(lo, hi) for lo, hi in bounds), deliver=deliver_here,
        gate=nothing if delivers_only else lambda tally: gate(resources, spec, tally),
        withdraw=nothing if delivers_only else lambda: withdraw(resources, spec), log=log)


def carry_out_here(resources: Resources, spec: RunSpec, summary: RunSummary,
                   bounds: Callable[[], list[Bound]], batches: Batches, started: float,
                   kept: Callable[[], Tally | None] | None = None) -> RunSummary:
    """`carry_out` over the batches `bounds()` gives, then the summary stored with the run,
    whether it completed or stopped. `kept()`: the counts of who a rerun does not plan again."""
    try:
        chosen = bounds()
        carry_out(resources, spec, summary, chosen, batches, kept() if kept else None)
    except Exception as problem:
        summary.outcome = "failed"
        summary.notes = summary.notes or [f"**Stopped:** {problem}"]
        summary.seconds = time.monotonic() - started
        runs.set_state(resources.engine, spec.run_id, summary.outcome, summary.to_dict())
        raise
    finish(summary, started)
    runs.set_state(resources.engine, spec.run_id, summary.outcome, summary.to_dict())
    return summary


def _each_batch(
    resources: Resources, spec: RunSpec, bounds: list[tuple[int, int]], session: Any,
) -> Iterable[Tally | BaseException]:
    for lo, hi in bounds:
        try:
            yield deliver.deliver_batch(resources, spec, lo, hi, session)
        except (DeliverabilityStop, TransportRefused) as stop:
            yield stop
            return  # the guardrail holds for every batch: the rest stays pending
        except Exception as problem:  # the other batches go on; all are reported at the end
            yield problem
