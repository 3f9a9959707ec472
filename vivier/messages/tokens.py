"""Signed link tokens: the unsubscribe and preference links in every message.

A token carries only the candidate id, signed and timestamped with itsdangerous; the
email address never appears in it. Each purpose has its own salt, so a preference
token cannot unsubscribe anyone and vice versa. `settings.secret_key` signs;
`settings.old_secret_keys` still verify, so keys can be rotated without breaking links
already in people's inboxes (drop an old key once its links are past their max age).

Outside the demo (`VIVIER_ENV=demo`), no link is signed or read with the public demo key or a
key under 32 bytes (`SettingsError`): candidate ids are sequential, so a guessable key would
let anyone read and change every candidate's consent. A token shows its candidate id (base64,
signed, not encrypted): the key, not the id, is what keeps links from being forged.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from itsdangerous import BadData, BadSignature, SignatureExpired, URLSafeTimedSerializer

from vivier.settings import Environment, Settings, SettingsError, weak_key_problem

PURPOSES = ("unsubscribe", "preferences")
# How long a link in an old message keeps working (unsubscribe must work >= 60 days).
MAX_AGE_DAYS = {"unsubscribe": 90, "preferences": 90}
_DAY = 86_400


class TokenProblem(Exception):
    """A link token that cannot be honoured; `reason` is tampered, expired or wrong_purpose."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}")


def _keys(settings: Settings) -> tuple[str, ...]:
    """Oldest first, newest last: itsdangerous signs with the last key and verifies with all.

    Raises SettingsError when the keys would let someone forge links (outside the demo)."""
    old = tuple(key.get_secret_value() for key in settings.old_secret_keys)
    keys = (*old, settings.secret_key.get_secret_value())
    if problem := _key_problem(keys, settings.env):
        raise SettingsError(problem)
    return keys


@lru_cache(maxsize=16)
def _key_problem(keys: tuple[str, ...], env: Environment) -> str | None:
    # Cached: two links per message must not re-check the same keys.
    return weak_key_problem(keys[-1], keys[:-1], env)


@lru_cache(maxsize=16)
def _serializer(keys: tuple[str, ...], purpose: str) -> URLSafeTimedSerializer:
    # Cached: building one derives keys; a run signs two tokens per message.
    return URLSafeTimedSerializer(list(keys), salt=f"vivier.link.{purpose}")


def _checked(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r} (use one of {', '.join(PURPOSES)})")
    return purpose


def make_token(settings: Settings, candidate_id: int, purpose: str) -> str:
    """A URL-safe signed token for this candidate and purpose (no PII beyond the id)."""
    return str(_serializer(_keys(settings), _checked(purpose)).dumps(int(candidate_id)))


def read_token(
    settings: Settings, token: str, purpose: str, max_age_days: int | None = None
) -> int:
    """The candidate id a token was made for; TokenProblem if it is forged, old or misused."""
    keys = _keys(settings)
    days = MAX_AGE_DAYS[_checked(purpose)] if max_age_days is None else max_age_days
    try:
        candidate_id = _serializer(keys, purpose).loads(token, max_age=days * _DAY)
    except SignatureExpired as exc:
        raise TokenProblem(
            "expired", f"this {purpose} link is older than {days} days; ask for a new one"
        ) from exc
    except BadSignature as exc:
        for other in PURPOSES:
            if other != purpose and _verifies(keys, other, token):
                raise TokenProblem(
                    "wrong_purpose", f"this is a {other} link, not a {purpose} link"
                ) from exc
        raise TokenProblem(
            "tampered", f"this {purpose} link was altered or signed with an unknown key"
        ) from exc
    if type(candidate_id) is not int:  # signed by us, so only a key shared with another app
        raise TokenProblem("tampered", f"this {purpose} link does not name a candidate")
    return candidate_id


def signing_keys(settings: Settings) -> tuple[str, ...]:
    """The keys that verify, oldest first; the last one signs (for other signed values: forms)."""
    return _keys(settings)


def token_id(token: str) -> str:
    """A short, one-way id of a link token: recorded as evidence instead of the token itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]


def _verifies(keys: tuple[str, ...], purpose: str, token: str) -> bool:
    try:
        _serializer(keys, purpose).loads(token)
    except BadData:
        return False
    return True


def unsubscribe_url(settings: Settings, candidate_id: int) -> str:
    """The one-click unsubscribe link (also the List-Unsubscribe header's URL)."""
    return f"{settings.public_base_url}/u/{make_token(settings, candidate_id, 'unsubscribe')}"


def preferences_url(settings: Settings, candidate_id: int) -> str:
    """The link to the candidate's preference page."""
    return f"{settings.public_base_url}/p/{make_token(settings, candidate_id, 'preferences')}"
