"""The contact rules: what a candidate's email, names, locale and status must be to be messaged.

One copy, read by the ATS import (`vivier/imports/`) and by the run's data checks
(`data_checks/candidates.py`), so that an imported row is one a cadence run accepts. The
patterns are strings for Great Expectations (its pandas engine runs them with Python `re`)
and compiled regexes for Python; `\\Z`, not `$`: `$` also matches before a trailing newline.
"""

from __future__ import annotations

import re

SUPPORTED_LANGUAGES = ("fr", "en")
STATUSES = ("active", "passive", "former")
MAX_LENGTHS = {
    "email": 254,  # RFC 5321 path limit
    "first_name": 100,
    "last_name": 100,
    "locale": 16,  # the column's width
    "city": 200,
    "search_location": 200,
    "expertise": 200,
}
MAX_LOCAL_PART = 64  # RFC 5321: the part before the @

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: each breaks a CSV
# row, a mail header or a greeting line.
_CONTROLS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
CONTROL_PATTERN = f"[{_CONTROLS}]"
CONTROL = re.compile(CONTROL_PATTERN)

_ATOM = rf"[^\s{_CONTROLS}@<>()\[\],;:\"\\.]+"
EMAIL_PATTERN = rf"^(?=[^@]{{1,{MAX_LOCAL_PART}}}@){_ATOM}(?:\.{_ATOM})*@(?:{_ATOM}\.)+{_ATOM}\Z"
EMAIL = re.compile(EMAIL_PATTERN)

# A supported language in any case, then BCP 47-shaped subtags: fr-CA, en_GB, fr-Latn-CA, en-150.
_LANGUAGE = "|".join("".join(f"[{c.upper()}{c}]" for c in code) for code in SUPPORTED_LANGUAGES)
LOCALE_PATTERN = rf"^(?:{_LANGUAGE})(?:[-_][A-Za-z0-9]{{1,8}})*\Z"
LOCALE = re.compile(LOCALE_PATTERN)

VISIBLE_CHARACTER_PATTERN = r"\S"  # a name of spaces only greets nobody
VISIBLE_CHARACTER = re.compile(VISIBLE_CHARACTER_PATTERN)


def is_valid_email(email: str) -> bool:
    """The address syntax vivier accepts: one @, a dotted domain, a local part of 64 at most."""
    return len(email) <= MAX_LENGTHS["email"] and bool(EMAIL.match(email))


def is_supported_locale(locale: str) -> bool:
    """fr or en in any case, optionally with region or script subtags: `fr-CA`, `en_GB`, `FR`."""
    return bool(LOCALE.match(locale))


def has_control_character(text: str) -> bool:
    """True when `text` holds a line break, tab or other control character."""
    return bool(CONTROL.search(text))


def has_visible_character(text: str) -> bool:
    """True when `text` is more than whitespace."""
    return bool(VISIBLE_CHARACTER.search(text))


def language_of(locale: str | None) -> str:
    """The language part of a locale: "fr-CA" / "fr_CA" / "FR" -> "fr"."""
    return re.split(r"[-_.@]", (locale or "").strip(), maxsplit=1)[0].lower()
