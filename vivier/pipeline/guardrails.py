"""Deliverability guardrails: stop sending before a bad list or angry readers hurt the domain.

Two readings, both from the database so that parallel batches (threads, processes, Dask
workers) see the same figures:
- the run's hard-bounce rate: distinct sends of this run with a hard bounce (SMTP 5xx at
  send time, or a provider's bounce event) over the messages attempted, once at least
  `bounce_min_sample` were attempted;
- the trailing complaint rate: complaints over messages sent in the last
  `complaint_window_days`, once at least `complaint_min_sample` were sent (below that, a
  single complaint is already above 0.1%).
A trip marks the run `stopped`; every batch of that run stops at its next chunk, and what
was not attempted stays pending for a rerun.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, func, select, update

from vivier.ledger.states import ATTEMPTED
from vivier.settings import Settings
from vivier.store.schema import Interaction, Run, Send

STOPPED = "stopped"


class DeliverabilityStop(RuntimeError):
    """A guardrail tripped: the send phase stops; unsent messages stay pending."""


def bounce_problem(conn: Connection, run_id: int, settings: Settings) -> str | None:
    """Why this run must stop sending because of hard bounces, or None."""
    attempted = conn.scalar(
        select(func.count()).select_from(Send)
        .where(Send.run_id == run_id, Send.status.in_(ATTEMPTED))
    ) or 0
    if attempted < settings.bounce_min_sample:
        return None
    bounced = conn.scalar(
        select(func.count(func.distinct(Interaction.send_id)))
        .join(Send, Send.id == Interaction.send_id)
        .where(Send.run_id == run_id, Interaction.kind == "bounced",
               Interaction.details["type"].as_string() == "hard")
    ) or 0
    rate = bounced / attempted
    if rate <= settings.bounce_rate_limit:
        return None
    return (
        f"hard-bounce rate {rate:.1%} ({bounced} of {attempted} attempted) is above "
        f"VIVIER_BOUNCE_RATE_LIMIT={settings.bounce_rate_limit:.1%}: the list has bad addresses. "
        "The bounced addresses are now suppressed; check where this list came from, then rerun "
        "the period to send the rest"
    )


def complaint_problem(conn: Connection, now: datetime, settings: Settings) -> str | None:
    """Why no message may leave because of recent complaints, or None."""
    since = now - timedelta(days=settings.complaint_window_days)
    window = (Interaction.occurred_at >= since,)
    sent = conn.scalar(
        select(func.count()).where(Interaction.kind == "message_sent", *window)
    ) or 0
    if sent < settings.complaint_min_sample:
        return None
    complaints = conn.scalar(
        select(func.count()).where(Interaction.kind == "complained", *window)
    ) or 0
    rate = complaints / sent
    if rate <= settings.complaint_rate_limit:
        return None
    return (
        f"complaint rate {rate:.2%} over the last {settings.complaint_window_days} days "
        f"({complaints} complaints for {sent} messages) is above "
        f"VIVIER_COMPLAINT_RATE_LIMIT={settings.complaint_rate_limit:.2%}: mailbox providers "
        "penalise from 0.1% and block at 0.3%. Review the segments and content that drew "
        "complaints; sending resumes when the rate falls back (or the limit is raised)"
    )


def stop_run(engine: Engine, run_id: int, reason: str) -> None:
    """Mark the run stopped so that every batch of it stops at its next chunk."""
    with engine.begin() as conn:
        conn.execute(update(Run).where(Run.id == run_id)
                     .values(state=STOPPED, summary={"stopped": reason}))


def stop_reason(conn: Connection, run_id: int) -> str | None:
    """The guardrail message if another batch of this run stopped it, else None."""
    row = conn.execute(select(Run.state, Run.summary).where(Run.id == run_id)).one_or_none()
    if row is None or row.state != STOPPED:
        return None
    return str((row.summary or {}).get("stopped", "a deliverability guardrail tripped"))
