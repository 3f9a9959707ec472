"""Specifications of signed link tokens: round trip, tampering, expiry, purpose, key rotation."""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from itsdangerous import URLSafeTimedSerializer

from vivier.messages.tokens import (
    MAX_AGE_DAYS,
    TokenProblem,
    make_token,
    preferences_url,
    read_token,
    unsubscribe_url,
)
from vivier.settings import DEMO_SECRET, Settings, SettingsError

DAY = 86_400


def key(name: str) -> str:
    """A key the 32-byte rule accepts, recognisable by its name."""
    return f"{name}-".ljust(40, "k")


def settings_with(secret: str = key("current-key"), old: tuple[str, ...] = ()) -> Settings:
    return Settings(
        secret_key=secret, old_secret_keys=list(old), public_base_url="https://talents.example/"
    )


@contextmanager
def days_later(monkeypatch: pytest.MonkeyPatch, days: float) -> Iterator[None]:
    """Move the clock itsdangerous reads forward, as if the link were clicked later."""
    now = time.time()
    with monkeypatch.context() as patch:
        patch.setattr("itsdangerous.timed.time.time", lambda: now + days * DAY)
        yield


def problem_reason(settings: Settings, token: str, purpose: str) -> str:
    with pytest.raises(TokenProblem) as caught:
        read_token(settings, token, purpose)
    return caught.value.reason


@pytest.mark.parametrize("purpose", ["unsubscribe", "preferences"])
def test_a_token_gives_back_its_candidate_id(purpose: str) -> None:
    settings = settings_with()
    assert read_token(settings, make_token(settings, 123_456, purpose), purpose) == 123_456


def test_links_point_at_the_public_site() -> None:
    settings = settings_with()
    unsubscribe, preferences = unsubscribe_url(settings, 7), preferences_url(settings, 7)
    assert unsubscribe.startswith("https://talents.example/u/")
    assert preferences.startswith("https://talents.example/p/")
    assert read_token(settings, unsubscribe.rsplit("/", 1)[1], "unsubscribe") == 7
    assert read_token(settings, preferences.rsplit("/", 1)[1], "preferences") == 7


def test_a_token_is_url_safe_short_and_carries_no_email_or_name() -> None:
    token = make_token(settings_with(), 42, "unsubscribe")
    assert token.replace("-", "").replace("_", "").replace(".", "").isalnum()
    assert len(token) <= 40  # 12 bytes of id and time, a 128-bit tag
    payload = token.split(".")[0]
    candidate_id, issued = struct.unpack(">QI", base64.urlsafe_b64decode(payload + "=="))
    assert candidate_id == 42 and abs(issued - time.time()) < 60
    assert "@" not in token


def test_an_altered_token_is_tampered() -> None:
    settings = settings_with()
    token = make_token(settings, 42, "unsubscribe")
    forged = make_token(settings, 43, "unsubscribe").split(".")[0] + token[token.index(".") :]
    assert problem_reason(settings, forged, "unsubscribe") == "tampered"
    assert problem_reason(settings, token[:-2], "unsubscribe") == "tampered"
    assert problem_reason(settings, "", "unsubscribe") == "tampered"
    assert problem_reason(settings, "not-a-token", "preferences") == "tampered"


def test_a_token_signed_with_an_unknown_key_is_tampered() -> None:
    token = make_token(settings_with(key("someone-elses-key")), 42, "unsubscribe")
    assert problem_reason(settings_with(), token, "unsubscribe") == "tampered"


def test_an_unsubscribe_link_still_works_after_sixty_days(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_with()
    token = make_token(settings, 42, "unsubscribe")
    assert MAX_AGE_DAYS["unsubscribe"] >= 60
    with days_later(monkeypatch, 61):
        assert read_token(settings, token, "unsubscribe") == 42


@pytest.mark.parametrize("purpose", ["unsubscribe", "preferences"])
def test_a_token_past_its_max_age_is_expired(monkeypatch: pytest.MonkeyPatch, purpose: str) -> None:
    settings = settings_with()
    token = make_token(settings, 42, purpose)
    with days_later(monkeypatch, MAX_AGE_DAYS[purpose] + 1):
        assert problem_reason(settings, token, purpose) == "expired"
    with days_later(monkeypatch, 3), pytest.raises(TokenProblem, match="older than 2 days"):
        read_token(settings, token, purpose, max_age_days=2)


def test_a_preferences_token_cannot_unsubscribe_and_vice_versa() -> None:
    settings = settings_with()
    preferences = make_token(settings, 42, "preferences")
    unsubscribe = make_token(settings, 42, "unsubscribe")
    assert preferences != unsubscribe
    assert problem_reason(settings, preferences, "unsubscribe") == "wrong_purpose"
    assert problem_reason(settings, unsubscribe, "preferences") == "wrong_purpose"


def test_links_signed_before_a_key_rotation_keep_working() -> None:
    before = settings_with(key("old-key"))
    token = make_token(before, 42, "unsubscribe")
    after = settings_with(key("new-key"), old=(key("old-key"),))
    assert read_token(after, token, "unsubscribe") == 42
    fresh = make_token(after, 42, "unsubscribe")
    assert read_token(settings_with(key("new-key")), fresh, "unsubscribe") == 42  # newest key signs
    assert problem_reason(settings_with(key("new-key")), token, "unsubscribe") == "tampered"


def test_an_unknown_purpose_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown token purpose 'login'"):
        make_token(settings_with(), 42, "login")
    with pytest.raises(ValueError, match="unknown token purpose"):
        read_token(settings_with(), "x", "login")


@pytest.mark.parametrize(("secret", "old"), [
    (DEMO_SECRET, ()), ("sixteen-byte-key", ()), (key("current"), ("short-old-key",)),
    (key("current"), (DEMO_SECRET,)),
])
def test_outside_the_demo_no_link_is_signed_or_read_with_a_weak_key(
        secret: str, old: tuple[str, ...]) -> None:
    good = make_token(settings_with(), 42, "unsubscribe")
    weak = settings_with(secret, old)
    with pytest.raises(SettingsError, match="32 bytes"):
        make_token(weak, 42, "unsubscribe")
    with pytest.raises(SettingsError, match="32 bytes"):
        read_token(weak, good, "unsubscribe")


def test_the_demo_signs_with_the_demo_key() -> None:
    demo = Settings(secret_key=DEMO_SECRET, env="demo")  # type: ignore[arg-type]
    assert read_token(demo, make_token(demo, 7, "preferences"), "preferences") == 7


def legacy_token(secret: str, candidate_id: object, purpose: str) -> str:
    """A link as messages carried it before the HMAC format (itsdangerous, three parts)."""
    return str(URLSafeTimedSerializer([secret], salt=f"vivier.link.{purpose}").dumps(candidate_id))


@pytest.mark.parametrize("purpose", ["unsubscribe", "preferences"])
def test_links_sent_before_the_hmac_format_keep_working(purpose: str) -> None:
    settings = settings_with()
    assert read_token(settings, legacy_token(key("current-key"), 42, purpose), purpose) == 42


def test_an_old_format_link_keeps_its_purpose_age_and_key_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_with()
    unsubscribe = legacy_token(key("current-key"), 42, "unsubscribe")
    assert problem_reason(settings, unsubscribe, "preferences") == "wrong_purpose"
    assert problem_reason(settings, legacy_token(key("someone-else"), 42, "unsubscribe"),
                          "unsubscribe") == "tampered"
    assert problem_reason(settings, legacy_token(key("current-key"), "42", "unsubscribe"),
                          "unsubscribe") == "tampered"  # signed, but names no candidate
    with days_later(monkeypatch, MAX_AGE_DAYS["unsubscribe"] + 1):
        assert problem_reason(settings, unsubscribe, "unsubscribe") == "expired"


def test_a_token_of_the_right_shape_with_a_bad_tag_is_tampered() -> None:
    settings = settings_with()
    payload, tag = make_token(settings, 42, "unsubscribe").split(".")
    assert problem_reason(settings, f"{payload}.{tag[:-4]}", "unsubscribe") == "tampered"
    assert problem_reason(settings, f"{payload}.", "unsubscribe") == "tampered"
    assert problem_reason(settings, f"{payload}.!!!!", "unsubscribe") == "tampered"
    assert problem_reason(settings, f"{payload[:-1]}.{tag}", "unsubscribe") == "tampered"
