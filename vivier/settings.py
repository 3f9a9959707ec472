"""The one settings object: every knob has a laptop default and a `VIVIER_` variable."""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceParseError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_SECRET = "vivier-demo-secret-change-me"


class TransportName(StrEnum):
    maildir = "maildir"
    smtp = "smtp"
    none = "none"


class TaskRunnerName(StrEnum):
    thread = "thread"
    dask = "dask"


class SmtpTls(StrEnum):
    starttls = "starttls"
    ssl = "ssl"
    plain = "plain"


class SettingsError(ValueError):
    """Settings that cannot work, described for the person who set them."""


class Settings(BaseSettings):
    """vivier's configuration, read from `VIVIER_*` environment variables (or `.env`)."""

    model_config = SettingsConfigDict(
        env_prefix="VIVIER_", env_file=".env", extra="ignore", validate_default=True
    )

    database_url: str = Field(
        "sqlite:///var/vivier.db", description="SQLAlchemy URL: SQLite file or PostgreSQL"
    )
    transport: TransportName = Field(TransportName.maildir, description="maildir, smtp or none")
    maildir_path: Path = Field(Path("var/outbox"), description="Maildir the maildir transport fills")
    smtp_host: str = Field("127.0.0.1", description="SMTP server host")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server port")
    smtp_user: str | None = Field(None, description="SMTP login (none: no AUTH)")
    smtp_password: SecretStr | None = Field(None, description="SMTP password")
    smtp_tls: SmtpTls = Field(SmtpTls.starttls, description="starttls, ssl or plain")
    smtp_timeout_seconds: float = Field(30.0, gt=0, description="SMTP socket timeout")
    # Two: one batch renders and sends while the other waits on the SMTP server or the database.
    smtp_connections: int = Field(2, ge=1, le=32, description="parallel SMTP connections")
    smtp_rate_per_second: float = Field(0.0, ge=0, description="max messages/s (0: unlimited)")
    smtp_max_retries: int = Field(3, ge=0, le=10, description="retries on 4xx / dropped link")
    sender_address: str = Field("talents@vivier.example", description="From address")
    sender_name: str = Field("L'équipe talents", description="From display name")
    recruiter_name: str = Field("Camille Martin", description="Signature in messages")
    team_timezone: str = Field("Europe/Paris", description="IANA zone of the team's calendar")
    # Great Expectations costs ~0.35 s per call whatever the size: 10k rows keep it ~5% of a run.
    batch_size: int = Field(10_000, ge=10, le=100_000, description="candidates per batch task")
    # 500: the per-chunk claim and record statements fall under 10% of delivery.
    send_chunk_size: int = Field(500, ge=1, le=10_000, description="ledger claim size")
    quality_threshold: float = Field(
        0.05, ge=0, le=1, description="max share of invalid rows before a run fails"
    )
    contact_gap_days: int = Field(6, ge=0, description="min days between two messages")
    lateness_weekly_days: int = Field(6, ge=0, description="weekly period accepted until")
    lateness_monthly_days: int = Field(20, ge=0, description="monthly period accepted until")
    lateness_quarterly_days: int = Field(45, ge=0, description="quarterly period accepted until")
    task_retries: int = Field(2, ge=0, le=10, description="Prefect retries of a failed batch task")
    # Two: plan batches are CPU-bound (GIL); more at once only hold more rows in memory.
    plan_concurrency: int = Field(2, ge=1, le=64, description="plan batches in flight at once")
    task_runner: TaskRunnerName = Field(
        TaskRunnerName.thread, description="where batch tasks run: thread (in the flow) or dask"
    )
    dask_address: str | None = Field(
        None, description="scheduler of an existing Dask cluster (unset: a local cluster per run)"
    )
    dask_workers: int = Field(2, ge=1, le=64, description="worker processes of the local Dask cluster")
    claim_lease_seconds: int = Field(
        300, ge=1, description="a 'sending' claim older than this is in doubt"
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000", description="base URL of links in messages"
    )
    secret_key: SecretStr = Field(SecretStr(DEMO_SECRET), description="signs message links")
    old_secret_keys: list[SecretStr] = Field(
        default_factory=list, description="retired keys that still verify (JSON list)"
    )
    retention_months: int = Field(24, ge=1, le=120, description="months a profile is kept")
    retention_batch_size: int = Field(
        500, ge=1, le=10_000, description="candidates anonymised per retention transaction"
    )
    unsubscribe_link_days: int = Field(
        90, ge=60, le=3650, description="days an unsubscribe link works (mailbox rules: >= 60)"
    )
    preferences_link_days: int = Field(90, ge=1, le=3650, description="days a preference link works")
    form_token_minutes: int = Field(
        120, ge=5, le=10_080, description="minutes an open preference form can still be saved"
    )
    survey_reminder_days: int = Field(
        14, ge=1, le=365, description="days after the consent survey before its one reminder"
    )
    renewal_notice_days: int = Field(
        30, ge=1, le=365, description="days before the retention limit consent renewal is asked"
    )
    webhook_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key of POST /hooks/events (unset: the hook refuses all)"
    )
    reply_pause_days: int = Field(
        30, ge=0, le=365, description="days a reply pauses nurturing (a recruiter took over)"
    )
    # Providers penalise from 0.1% complaints and block at 0.3%; 5% hard bounces marks a bad list.
    bounce_rate_limit: float = Field(
        0.05, gt=0, le=1, description="run's hard-bounce share that stops the send phase"
    )
    bounce_min_sample: int = Field(
        200, ge=1, description="messages attempted before the bounce guardrail may trip"
    )
    complaint_rate_limit: float = Field(
        0.001, gt=0, le=1, description="trailing complaint share that stops the send phase"
    )
    complaint_window_days: int = Field(30, ge=1, le=365, description="complaint-rate window")
    complaint_min_sample: int = Field(
        1000, ge=1, description="messages in the window before the complaint guardrail may trip"
    )
    attribution_days: int = Field(
        30, ge=1, le=365, description="days after a message an application is credited to it"
    )
    templates_dir: Path = Field(PROJECT_ROOT / "templates", description="message templates")
    segments_file: Path = Field(PROJECT_ROOT / "segments.yaml", description="segments definition")
    samples_dir: Path = Field(Path("var/samples"), description="dry-run rendered samples")

    @field_validator("team_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        if value.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("public_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.team_timezone)

    def lateness_days(self, cadence: str) -> int:
        return int(getattr(self, f"lateness_{cadence}_days"))

    @property
    def uses_demo_secret(self) -> bool:
        return self.secret_key.get_secret_value() == DEMO_SECRET


def load_settings(**overrides: object) -> Settings:
    """Read settings; a bad value raises SettingsError naming the variable to fix."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except SourceParseError as exc:  # a list/dict variable that is not JSON
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"VIVIER_{field.group(1).upper()}" if field else "a VIVIER_ variable"
        raise SettingsError(
            f"invalid settings:\n  {name}: not valid JSON (write a JSON list, e.g. [\"old-key\"])"
        ) from None
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            shown = "" if "password" in field or "secret" in field else f" (got {error.get('input')!r})"
            lines.append(f"VIVIER_{field.upper()}: {error['msg']}{shown}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
    if settings.uses_demo_secret:
        log.warning(
            "VIVIER_SECRET_KEY is the demo default: set a secret of your own before production"
        )
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests call `get_settings.cache_clear()` after changing env)."""
    return load_settings()
