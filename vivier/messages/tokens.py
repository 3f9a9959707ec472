"""Signed link tokens: the unsubscribe and preference links in every message.

A token carries only the candidate id and when it was made, signed with HMAC-SHA256
(`<payload>.<mac>`, ~39 characters: 12 bytes of id and time, a 128-bit tag); the email
address never appears in it. Each purpose signs with its own key derived from the secret,
so a preference token cannot unsubscribe anyone and vice versa. `settings.secret_key`
signs; `settings.old_secret_keys` still verify, so keys can be rotated without breaking
links already in people's inboxes (drop an old key once its links are past their max age).

Links sent before this format (itsdangerous, `<payload>.<time>.<signature>`, three parts)
are still read, with the same keys, purposes and ages, until the last of them expires
(`MAX_AGE_DAYS`, at most VIVIER_*_LINK_DAYS): signing one cost ~6x more, and a run signs
two per message.

Outside the demo (`VIVIER_ENV=demo`), no link is signed or read with the public demo key or a
key under 32 bytes (`SettingsError`): candidate ids are sequential, so a guessable key would
let anyone read and change every candidate's consent. A token shows its candidate id (base64,
signed, not encrypted): the key, not the id, is what keeps links from being forged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time
from functools import lru_cache

from itsdangerous import BadData, BadSignature, SignatureExpired, URLSafeTimedSerializer

from vivier.settings import Environment, Settings, SettingsError, weak_key_problem

PURPOSES = ("unsubscribe", "preferences")
# How long a link in an old message keeps working (unsubscribe must work >= 60 days).
MAX_AGE_DAYS = {"unsubscribe": 90, "preferences": 90}
_DAY = 86_400
_PAYLOAD = struct.Struct(">QI")  # candidate id, seconds since the epoch when it was made
_PAYLOAD_CHARS, _TAG_BYTES = 16, 16  # 12 bytes in base64 without padding; a 128-bit tag


class TokenProblem(Exception):
    """A link token that cannot be honoured; `reason` is tampered, expired or wrong_purpose."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}")


def _keys(settings: Settings) -> tuple[str, ...]:
    """Oldest first, newest last: the newest signs, every one verifies.

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
def _macs(keys: tuple[str, ...], purpose: str) -> tuple[hmac.HMAC, ...]:
    """One keyed HMAC-SHA256 per key (newest last), its key derived for this purpose only."""
    label = f"vivier.link.{purpose}".encode()
    return tuple(
        hmac.new(hmac.new(key.encode("utf-8"), label, hashlib.sha256).digest(),
                 digestmod=hashlib.sha256)
        for key in keys
    )


def _tag(mac: hmac.HMAC, payload: bytes) -> bytes:
    keyed = mac.copy()  # a copy of the keyed state: no key setup per token
    keyed.update(payload)
    return keyed.digest()[:_TAG_BYTES]


@lru_cache(maxsize=16)
def _serializer(keys: tuple[str, ...], purpose: str) -> URLSafeTimedSerializer:
    # Links made before the HMAC format: read only, until they are past their max age.
    return URLSafeTimedSerializer(list(keys), salt=f"vivier.link.{purpose}")


def _checked(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r} (use one of {', '.join(PURPOSES)})")
    return purpose


_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def _b64(raw: bytes) -> str:
    # base64.urlsafe_b64encode, without its two Python calls (three per message)
    return binascii.b2a_base64(raw, newline=False).translate(_URL_SAFE).rstrip(b"=").decode("ascii")


def make_token(settings: Settings, candidate_id: int, purpose: str) -> str:
    """A URL-safe signed token for this candidate and purpose (no PII beyond the id)."""
    payload = _PAYLOAD.pack(int(candidate_id), int(time.time()))
    return f"{_b64(payload)}.{_b64(_tag(_macs(_keys(settings), _checked(purpose))[-1], payload))}"


def read_token(
    settings: Settings, token: str, purpose: str, max_age_days: int | None = None
) -> int:
    """The candidate id a token was made for; TokenProblem if it is forged, old or misused."""
    keys = _keys(settings)
    days = MAX_AGE_DAYS[_checked(purpose)] if max_age_days is None else max_age_days
    if token.count(".") == 2:
        return _read_legacy(keys, token, purpose, days)
    payload, tag = _decoded(token)
    if payload is None or tag is None or not _signed(keys, purpose, payload, tag):
        for other in PURPOSES:
            if other != purpose and payload and tag and _signed(keys, other, payload, tag):
                raise TokenProblem("wrong_purpose", f"this is a {other} link, not a {purpose} link")
        raise TokenProblem("tampered", f"this {purpose} link was altered or signed with an unknown key")
    candidate_id, issued = _PAYLOAD.unpack(payload)
    if time.time() - issued > days * _DAY:
        raise TokenProblem("expired", f"this {purpose} link is older than {days} days; ask for a new one")
    return int(candidate_id)


def _decoded(token: str) -> tuple[bytes | None, bytes | None]:
    """The payload and tag of a `<payload>.<tag>` token, or Nones when it has another shape."""
    payload, _, tag = token.partition(".")
    if len(payload) != _PAYLOAD_CHARS or not tag:
        return None, None
    try:
        return (base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)),
                base64.urlsafe_b64decode(tag + "=" * (-len(tag) % 4)))
    except (binascii.Error, ValueError):
        return None, None


def _signed(keys: tuple[str, ...], purpose: str, payload: bytes, tag: bytes) -> bool:
    return any(hmac.compare_digest(_tag(mac, payload), tag) for mac in _macs(keys, purpose))


def _read_legacy(keys: tuple[str, ...], token: str, purpose: str, days: int) -> int:
    """A link made before the HMAC format (itsdangerous): same keys, purposes and ages."""
    try:
        candidate_id = _serializer(keys, purpose).loads(token, max_age=days * _DAY)
    except SignatureExpired as exc:
        raise TokenProblem(
            "expired", f"this {purpose} link is older than {days} days; ask for a new one"
        ) from exc
    except BadSignature as exc:
        for other in PURPOSES:
            if other != purpose and _verifies_legacy(keys, other, token):
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


def _verifies_legacy(keys: tuple[str, ...], purpose: str, token: str) -> bool:
    try:
        _serializer(keys, purpose).loads(token)
    except BadData:
        return False
    return True


def link_urls(settings: Settings, candidate_id: int) -> tuple[str, str]:
    """The unsubscribe and preference links of one message (`unsubscribe_url`, `preferences_url`):
    the keys read and the payload made once for both, a tag each."""
    unsubscribe, preferences = _link_macs(_keys(settings))
    payload = _PAYLOAD.pack(int(candidate_id), int(time.time()))
    shown = _b64(payload)
    base = settings.public_base_url
    return (f"{base}/u/{shown}.{_b64(_tag(unsubscribe, payload))}",
            f"{base}/p/{shown}.{_b64(_tag(preferences, payload))}")


@lru_cache(maxsize=16)
def _link_macs(keys: tuple[str, ...]) -> tuple[hmac.HMAC, hmac.HMAC]:
    """The signing MACs of a message's two links (the newest key's, per purpose)."""
    return _macs(keys, "unsubscribe")[-1], _macs(keys, "preferences")[-1]


def unsubscribe_url(settings: Settings, candidate_id: int) -> str:
    """The one-click unsubscribe link (also the List-Unsubscribe header's URL)."""
    return f"{settings.public_base_url}/u/{make_token(settings, candidate_id, 'unsubscribe')}"


def preferences_url(settings: Settings, candidate_id: int) -> str:
    """The link to the candidate's preference page."""
    return f"{settings.public_base_url}/p/{make_token(settings, candidate_id, 'preferences')}"
