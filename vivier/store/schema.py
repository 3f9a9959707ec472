"""The database schema: typed SQLAlchemy models, identical on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vivier.ledger.states import SendState
from vivier.rules.contact import STATUSES, SUPPORTED_LANGUAGES
from vivier.rules.identity import ERASURE_KINDS

CADENCES = ("weekly", "monthly", "quarterly")
FREQUENCIES = (*CADENCES, "none")
CONSENT_STATES = ("granted", "withdrawn", "denied")
SEND_STATES = tuple(str(state) for state in SendState)  # the moves between them: vivier.ledger
SUPPRESSION_REASONS = ("unsubscribe", "hard_bounce", "complaint", "erasure")
LOCALES = SUPPORTED_LANGUAGES
JOB_STATUSES = ("open", "closed")
REMOTE_POLICIES = ("onsite", "hybrid", "remote")
CONTENT_KINDS = ("article", "news", "event", "tip", "success_story")
APPLICATION_OUTCOMES = ("applied", "screening", "interview", "offer", "hired", "rejected", "withdrawn")

# BIGINT on PostgreSQL, INTEGER on SQLite (where only INTEGER PRIMARY KEY autoincrements).
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on both databases."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: vivier stores aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{column}_known")


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Candidate(Base):
    """A person in the talent pool, keyed by the ATS id."""

    __tablename__ = "candidates"
    __table_args__ = (
        _one_of("status", STATUSES),
        Index("ix_candidates_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(16), default="fr")
    city: Mapped[str | None] = mapped_column(String(200))
    search_location: Mapped[str | None] = mapped_column(String(200))
    expertise: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16))
    # The owner recruiter in the ATS: signs the messages of a privileged candidate.
    owner_email: Mapped[str | None] = mapped_column(String(320))
    owner_name: Mapped[str | None] = mapped_column(String(200))
    # IANA zone from the ATS; empty: derived from where they search (vivier/rules/zones.py).
    timezone: Mapped[str | None] = mapped_column(String(64))
    last_applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_contacted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# Duplicate-address checks compare lower-cased emails.
Index("ix_candidates_email_lower", func.lower(Candidate.email))
# A rerun looks for candidates changed since the period's last plan.
Index("ix_candidates_updated_at", Candidate.updated_at)


class Consent(Base):
    """Append-only consent log; the latest event per purpose is in force."""

    __tablename__ = "consents"
    __table_args__ = (
        _one_of("state", CONSENT_STATES),
        Index("ix_consents_candidate_purpose_at", "candidate_id", "purpose", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"))
    purpose: Mapped[str] = mapped_column(String(32), default="nurturing")
    state: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Preference(Base):
    """A candidate's own choice of frequency; `none` is the non-nurtured pool."""

    __tablename__ = "preferences"
    __table_args__ = (_one_of("frequency", FREQUENCIES),)

    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), primary_key=True)
    frequency: Mapped[str] = mapped_column(String(16))
    privileged: Mapped[bool] = mapped_column(Boolean, default=False)
    # Their own field and place (preference page): they win over the ATS's candidate values.
    expertise: Mapped[str | None] = mapped_column(String(200))
    search_location: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(64))


class Suppression(Base):
    """An address that must stay silent, kept as a hash so it survives erasure."""

    __tablename__ = "suppressions"
    __table_args__ = (_one_of("reason", SUPPRESSION_REASONS),)

    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64), default="vivier")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ErasureKey(Base):
    """A keyed hash (email or ATS id) an erased person leaves: imports refuse to store them again.

    No link to `candidates`: the key outlives the profile and says only when and why.
    """

    __tablename__ = "erasure_keys"
    __table_args__ = (_one_of("kind", ERASURE_KINDS),)

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # request (erasure) or retention
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Job(Base):
    """An opening that can be offered to matching candidates."""

    __tablename__ = "jobs"
    __table_args__ = (
        _one_of("status", JOB_STATUSES),
        _one_of("remote", REMOTE_POLICIES),
        Index("ix_jobs_published_at", "published_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    company: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))  # shown and matched: city or country
    city: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(100))
    remote: Mapped[str | None] = mapped_column(String(16))  # onsite | hybrid | remote
    languages: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    expertise: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(1000))
    locale: Mapped[str] = mapped_column(String(16), default="fr")
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # from then on: closed


class Content(Base):
    """An article, news item, event, tip or success story for a period's messages."""

    __tablename__ = "content"
    __table_args__ = (
        _one_of("kind", CONTENT_KINDS),
        Index("ix_content_published_at", "published_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # the feed's id
    kind: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str] = mapped_column(String(1000))
    tags: Mapped[list[str] | None] = mapped_column(JSON, default=list)  # expertises, segments
    event_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    event_zone: Mapped[str | None] = mapped_column(String(64))  # IANA zone, or "+01:00"
    place: Mapped[str | None] = mapped_column(String(300))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Run(Base):
    """One plan/deliver run of a cadence and period (a Prefect flow run, or a CLI run)."""

    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_cadence_period", "cadence", "period_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    cadence: Mapped[str] = mapped_column(String(32))
    period_key: Mapped[str] = mapped_column(String(16))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    # plan: a cadence (or survey) run; deliver: the hourly run sending what became due
    kind: Mapped[str] = mapped_column(String(16), default="plan", server_default="plan")
    state: Mapped[str] = mapped_column(String(16), default="planning")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set when a whole-pool plan passed the gate: what the period's next rerun builds on
    # (vivier.pipeline.incremental).
    plan_basis: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Send(Base):
    """The send ledger: one row per candidate, cadence and period, never two."""

    __tablename__ = "sends"
    __table_args__ = (
        UniqueConstraint("candidate_id", "cadence", "period_key"),
        _one_of("status", SEND_STATES),
        Index("ix_sends_run_status", "run_id", "status", "candidate_id"),
        Index("ix_sends_cadence_period_status", "cadence", "period_key", "status"),
        Index("ix_sends_message_id", "message_id"),
        Index("ix_sends_status_not_before", "status", "not_before"),  # the due claim
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"))
    cadence: Mapped[str] = mapped_column(String(32))
    period_key: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=str(SendState.pending))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    segment: Mapped[str | None] = mapped_column(String(64))
    template: Mapped[str | None] = mapped_column(String(200))
    template_version: Mapped[str | None] = mapped_column(String(64))
    privileged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    message_id: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The candidate's send window (vivier/rules/send_window.py): from when it may leave, until
    # when (the period's lateness limit), and the zone it was timed in. NULL: at once, no limit.
    not_before: Mapped[datetime | None] = mapped_column(UtcDateTime)
    send_by: Mapped[datetime | None] = mapped_column(UtcDateTime)
    zone: Mapped[str | None] = mapped_column(String(64))


class Interaction(Base):
    """Every event with a candidate: what the effectiveness report reads."""

    __tablename__ = "interactions"
    __table_args__ = (
        Index("ix_interactions_candidate_at", "candidate_id", "occurred_at"),
        Index("ix_interactions_kind_at", "kind", "occurred_at"),
        Index("ix_interactions_send_kind", "send_id", "kind"),
        UniqueConstraint("event_key"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id"))
    send_id: Mapped[int | None] = mapped_column(ForeignKey("sends.id"))
    kind: Mapped[str] = mapped_column(String(32))
    cadence: Mapped[str | None] = mapped_column(String(32))
    period_key: Mapped[str | None] = mapped_column(String(16))
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    # Idempotency key of an ingested event (provider id); NULLs never collide.
    event_key: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SendItem(Base):
    """What a sent message showed: one row per opening or content item, so none is shown twice."""

    __tablename__ = "send_items"
    __table_args__ = (_one_of("kind", ("job", "content")),)

    send_id: Mapped[int] = mapped_column(ForeignKey("sends.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # job | content
    item_id: Mapped[int] = mapped_column(Id, primary_key=True)  # jobs.id or content.id


class Application(Base):
    """An application from the ATS: one row per candidate and job, its outcome kept current."""

    __tablename__ = "applications"
    __table_args__ = (
        UniqueConstraint("candidate_id", "job_ref"),
        _one_of("outcome", APPLICATION_OUTCOMES),
        Index("ix_applications_applied_at", "applied_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"))
    job_ref: Mapped[str] = mapped_column(String(64))  # the ATS job id; the job may not be in `jobs`
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime)
    outcome: Mapped[str] = mapped_column(String(16), default="applied")
    source: Mapped[str] = mapped_column(String(64), default="ats")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Decision(Base):
    """Why a candidate was not messaged in a run (or would not be, in a dry run)."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_candidate", "candidate_id", "cadence", "period_key"),
        Index("ix_decisions_run_reason", "run_id", "reason"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"))
    cadence: Mapped[str] = mapped_column(String(32))
    period_key: Mapped[str] = mapped_column(String(16))
    segment: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    privileged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
