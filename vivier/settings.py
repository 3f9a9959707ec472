"""The one settings object: every knob has a laptop default and a `VIVIER_` variable."""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceParseError

if TYPE_CHECKING:
    from vivier.rules.send_window import SendWindow

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_SECRET = "vivier-demo-secret-change-me"
# 32 bytes: an HMAC-SHA1 key (itsdangerous) is as strong as its entropy; a person's password is not.
MIN_SECRET_BYTES = 32
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_URL_CHARS = re.compile(r"[!-;=?-~]+")  # printable ASCII without spaces or angle brackets
_HOST = re.compile(r"[A-Za-z0-9._:\[\]-]+")
MAX_BASE_URL = 200  # the List-Unsubscribe header (URL + ~120-char token) must fit in 998


class TransportName(StrEnum):
    maildir = "maildir"
    smtp = "smtp"
    none = "none"


class Environment(StrEnum):
    production = "production"
    demo = "demo"  # `make demo` / `vivier demo`: the public demo key may sign links


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

    env: Environment = Field(
        Environment.production, description="production, or demo (`vivier demo` sets it)"
    )
    database_url: str = Field(
        "sqlite:///var/vivier.db", description="SQLAlchemy URL: SQLite file or PostgreSQL",
        repr=False,  # it may hold a password
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
    sender_name: str = Field("L'équipe talents", description="From display name (French messages)")
    sender_name_en: str = Field("The talent team", description="From display name on English messages")
    recruiter_name: str = Field(
        "Camille Martin", description="the team's signature (a privileged candidate's owner signs theirs)")
    privileged_head_start_days: int = Field(
        7, ge=0, le=60, description="days a new opening goes to the privileged pool only")
    feeds_stale_days: int = Field(
        14, ge=1, le=365, description="a run notes feeds whose newest item is older than this")
    team_timezone: str = Field("Europe/Paris", description="IANA zone of the team's calendar")
    # Great Expectations costs ~0.35 s per call whatever the size: 10k rows keep it ~5% of a run.
    batch_size: int = Field(10_000, ge=10, le=100_000, description="candidates per batch task")
    # 500: the per-chunk claim and record statements fall under 10% of delivery.
    send_chunk_size: int = Field(500, ge=1, le=10_000, description="ledger claim size")
    # Claimed and recorded in one commit per window: a kill leaves at most this many in doubt
    # per connection, whatever the chunk size.
    send_window: int = Field(
        8, ge=1, le=1_000, description="messages per connection between two ledger commits"
    )
    quality_threshold: float = Field(
        0.05, ge=0, le=1, description="max share of invalid rows before a run fails"
    )
    contact_gap_days: int = Field(6, ge=0, description="min days between two messages")
    lateness_weekly_days: int = Field(6, ge=0, description="weekly period accepted until")
    lateness_monthly_days: int = Field(20, ge=0, description="monthly period accepted until")
    lateness_quarterly_days: int = Field(45, ge=0, description="quarterly period accepted until")
    # Candidates' own local time (vivier/rules/send_window.py); the consent survey uses the monthly's.
    send_hours_weekly: str = Field("mon-fri 09:00-11:30", description="weekly send window, local time")
    send_hours_monthly: str = Field("mon-fri 09:00-11:30", description="monthly send window, local time")
    send_hours_quarterly: str = Field(
        "mon-fri 09:00-11:30", description="quarterly send window, local time")
    task_retries: int = Field(2, ge=0, le=10, description="Prefect retries of a failed batch task")
    replan_incremental: bool = Field(
        True, description="a rerun re-plans only what may decide differently (false: everyone)")
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
    in_doubt_evidence_hours: float = Field(
        24, ge=0, description="hours an in-doubt send waits for evidence before it may be resent"
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000", description="base URL of links in messages"
    )
    secret_key: SecretStr = Field(SecretStr(DEMO_SECRET), description="signs message links")
    # Names of Prefect Secret blocks that hold a secret instead of the environment; read by the
    # Prefect layer (runs, workers, `vivier` verbs, `vivier web`) when they start (tasks/secrets.py).
    alert_block: str = Field("vivier-alerts", min_length=1,
                             description="Prefect notification block the alerting automations notify")
    smtp_password_block: str | None = Field(None, description="Prefect Secret block: SMTP password")
    secret_key_block: str | None = Field(None, description="Prefect Secret block: link signing key")
    webhook_secret_block: str | None = Field(None, description="Prefect Secret block: webhook secret")
    database_password_block: str | None = Field(
        None, description="Prefect Secret block: the password put into VIVIER_DATABASE_URL")
    old_secret_keys: list[SecretStr] = Field(
        default_factory=list, description="retired keys that still verify (JSON list)"
    )
    retention_months: int = Field(24, ge=1, le=120, description="months a profile is kept")
    decisions_keep_months: int = Field(
        13, ge=1, le=120, description="months a run's decisions are kept (its counts stay in runs)")
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
    hired_pause_months: int = Field(
        12, ge=0, le=120, description="months a hire pauses nurturing (recently_hired)")
    after_process_days: int = Field(
        30, ge=0, le=365, description="days after a rejection or withdrawal before nurturing resumes")
    # Providers penalise from 0.1% complaints and block at 0.3%; 5% hard bounces marks a bad list.
    bounce_rate_limit: float = Field(
        0.05, gt=0, le=1, description="run's hard-bounce share that stops the send phase"
    )
    failed_share_limit: float = Field(
        0.02, ge=0, le=1, description="run's failed-send share above which the run fails"
    )
    failed_min_sample: int = Field(
        50, ge=1, description="messages attempted before the failed share may fail a run"
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
    jobs_feed: str | None = Field(
        None, description="the openings feed sync-feeds reads: a path or an http(s) URL (CSV/JSONL)")
    content_feed: str | None = Field(
        None, description="the content feed sync-feeds reads: a path or an http(s) URL (CSV/JSONL)")
    samples_dir: Path = Field(Path("var/samples"), description="dry-run rendered samples")
    samples_keep_days: int = Field(
        7, ge=0, le=365, description="days dry-run samples are kept (0: purged at the next run)"
    )

    @field_validator("webhook_secret")
    @classmethod
    def _blank_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        """A secret of spaces protects nothing: it counts as unset (the hook then refuses all)."""
        return None if value is None or not value.get_secret_value().strip() else value

    @field_validator("team_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @field_validator("send_hours_weekly", "send_hours_monthly", "send_hours_quarterly")
    @classmethod
    def _send_window(cls, value: str) -> str:
        from vivier.rules.send_window import SendWindow

        return str(SendWindow.parse(value))  # WindowProblem is a ValueError: says what to write

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
        value = value.rstrip("/")
        host = value.split("://", 1)[1].split("/", 1)[0]
        if not _URL_CHARS.fullmatch(value) or not host or not _HOST.fullmatch(host):
            raise ValueError(
                "must be a plain ASCII URL with a host and no spaces or angle brackets, "
                "e.g. https://talents.example.com"
            )
        if "?" in value or "#" in value:
            raise ValueError("must not hold a query or fragment: links add /u/<token> to it")
        if len(value) > MAX_BASE_URL:
            raise ValueError(f"is longer than {MAX_BASE_URL} characters: links would not fit a header")
        return value

    @field_validator("sender_address")
    @classmethod
    def _plain_address(cls, value: str) -> str:
        # It is the From address and its domain is every Message-ID's: a bad one fails every send.
        if not _ADDRESS.fullmatch(value):
            raise ValueError(
                "must be a bare address like talents@example.com (ASCII, no display name, "
                "no spaces or brackets); put the display name in VIVIER_SENDER_NAME"
            )
        return value

    @field_validator("sender_name", "sender_name_en", "recruiter_name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if _CONTROLS.search(value):
            raise ValueError("must be one line of text (no line breaks or control characters)")
        if len(value) > 100:
            raise ValueError("is longer than 100 characters")
        return value

    def sender_name_for(self, locale: str) -> str:
        """The From name in the message's language: an English message never shows the French one."""
        return self.sender_name_en if locale.split("-")[0].lower() == "en" else self.sender_name

    @field_validator("smtp_host")
    @classmethod
    def _host_name(cls, value: str) -> str:
        if not _HOST.fullmatch(value):
            raise ValueError("must be a host name or IP address (no spaces, no scheme, no port)")
        return value

    @field_validator("maildir_path", "samples_dir")
    @classmethod
    def _a_folder(cls, value: Path) -> Path:
        if not str(value).strip() or str(value) == ".":
            raise ValueError("must name a folder of its own (e.g. var/outbox)")
        return value

    @field_validator("secret_key")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty: set a random secret of at least 32 bytes")
        return value

    @field_validator("old_secret_keys")
    @classmethod
    def _no_empty_old_key(cls, value: list[SecretStr]) -> list[SecretStr]:
        if any(not key.get_secret_value().strip() for key in value):
            raise ValueError("holds an empty key: remove it from the list")
        return value

    @model_validator(mode="after")
    def _login_has_password(self) -> Settings:
        has_password = bool(self.smtp_password and self.smtp_password.get_secret_value())
        if self.smtp_user and not (has_password or self.smtp_password_block):
            raise ValueError(
                "VIVIER_SMTP_USER is set but VIVIER_SMTP_PASSWORD is empty: set both (or name a "
                "Prefect Secret block in VIVIER_SMTP_PASSWORD_BLOCK), or neither"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.team_timezone)

    def lateness_days(self, cadence: str) -> int:
        return int(getattr(self, f"lateness_{cadence}_days"))

    def timing_cadence(self, cadence: str) -> str:
        """The cadence whose send window and lateness a ledger cadence follows: its own, or the
        monthly's for the consent survey's kinds (they run monthly)."""
        return cadence if hasattr(self, f"send_hours_{cadence}") else "monthly"

    def send_hours(self, cadence: str) -> SendWindow:
        """The send window of a ledger cadence, in the candidates' local time."""
        from vivier.rules.send_window import SendWindow

        return SendWindow.parse(getattr(self, f"send_hours_{self.timing_cadence(cadence)}"))

    @property
    def uses_demo_secret(self) -> bool:
        return self.secret_key.get_secret_value() == DEMO_SECRET

    @property
    def is_demo(self) -> bool:
        return self.env is Environment.demo

    def signing_key_problem(self) -> str | None:
        """Why the link keys would let someone forge links, or None (any key will do in the demo)."""
        return weak_key_problem(
            self.secret_key.get_secret_value(),
            tuple(key.get_secret_value() for key in self.old_secret_keys),
            self.env,
        )

    def require_signing_keys(self) -> None:
        """Raise SettingsError when links signed with these keys could be forged (outside the demo)."""
        if problem := self.signing_key_problem():
            raise SettingsError(problem)


def weak_key_problem(secret: str, old: tuple[str, ...], env: Environment) -> str | None:
    """The signing rule: outside the demo, no demo key and no key under MIN_SECRET_BYTES bytes."""
    if env is Environment.demo:
        return None
    fix = (f"set a random secret of at least {MIN_SECRET_BYTES} bytes, e.g. "
           "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`, "
           "or VIVIER_ENV=demo to try vivier on demo data")
    if secret == DEMO_SECRET:
        return f"VIVIER_SECRET_KEY is the public demo key: anyone could forge links; {fix}"
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        return f"VIVIER_SECRET_KEY is shorter than {MIN_SECRET_BYTES} bytes: links could be forged; {fix}"
    for key in old:
        if key == DEMO_SECRET or len(key.encode("utf-8")) < MIN_SECRET_BYTES:
            return (f"VIVIER_OLD_SECRET_KEYS holds the demo key or a key under {MIN_SECRET_BYTES} "
                    "bytes: links signed with it could be forged; drop it from the list")
    return None


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
            # A model-level error (loc empty) names its variables in its own message.
            where = str(error["loc"][0]) if error["loc"] else ""
            secret = "password" in where or "secret" in where
            shown = "" if secret or not where else f" (got {error.get('input')!r})"
            name = f"VIVIER_{where.upper()}: " if where else ""
            lines.append(f"{name}{error['msg'].removeprefix('Value error, ')}{shown}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
    if settings.uses_demo_secret and not settings.is_demo:
        log.warning("VIVIER_SECRET_KEY is the demo default: sends and the web app refuse it "
                    "outside VIVIER_ENV=demo")
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests call `get_settings.cache_clear()` after changing env)."""
    return load_settings()
