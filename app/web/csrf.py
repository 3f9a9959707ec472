"""CSRF protection of the preference form: a signed, timed form token bound to the link.

No cookie and no session: the form carries a token signed with the app's keys (so key
rotation applies) whose payload is the id of the page's own link token. A form posted
from anywhere else, for another candidate, or left open too long is refused.
"""

from __future__ import annotations

import hmac
from functools import lru_cache

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from vivier.messages.tokens import signing_keys, token_id
from vivier.settings import Settings

_SALT = "vivier.form.preferences"


class FormProblem(Exception):
    """A form that cannot be saved: `reason` is form_expired or form_invalid."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@lru_cache(maxsize=8)
def _serializer(keys: tuple[str, ...]) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(list(keys), salt=_SALT)


def form_token(settings: Settings, link_token: str) -> str:
    """The hidden form field for the page opened with `link_token`."""
    return str(_serializer(signing_keys(settings)).dumps(token_id(link_token)))


def check_form_token(settings: Settings, submitted: str, link_token: str) -> None:
    """Raise FormProblem unless `submitted` was made by us, recently, for this very link."""
    try:
        bound = _serializer(signing_keys(settings)).loads(
            submitted, max_age=settings.form_token_minutes * 60)
    except SignatureExpired:
        raise FormProblem("form_expired") from None
    except BadData:
        raise FormProblem("form_invalid") from None
    if not isinstance(bound, str) or not hmac.compare_digest(bound, token_id(link_token)):
        raise FormProblem("form_invalid")
