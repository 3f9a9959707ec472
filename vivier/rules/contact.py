"""The contact rules: what a candidate's email, names, locale and status must be to be messaged.

One copy, read by the ATS import (`vivier/imports/`) and by the run's data checks
(`data_checks/candidates.py`), so that an imported row is one a cadence run accepts. The
patterns are strings for Great Expectations (its pandas engine runs them with Python `re`)
and compiled regexes for Python; `\\Z`, not `$`: `$` also matches before a trailing newline.
"""

from __future__ import annotations

import re

import idna

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

# Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they
# reorder how the text around them is shown, so a name could display as something else.
_BIDI = r"\u202a-\u202e\u2066-\u2069"
# C0 and C1 controls, DEL, the Unicode line and paragraph separators (each breaks a CSV row,
# a mail header or a greeting line) and the bidirectional controls above.
_CONTROLS = rf"\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI}"
CONTROL_PATTERN = f"[{_CONTROLS}]"
CONTROL = re.compile(CONTROL_PATTERN)
# Invisible, yet part of an address no one can type back: zero-width characters, word
# joiner, left/right marks, soft hyphen and the byte-order mark (a BOM pasted mid-file).
_INVISIBLE = r"\u00ad\u200b-\u200f\u2060-\u2064\ufeff"

_ATOM = rf"[^\s{_CONTROLS}{_INVISIBLE}@<>()\[\],;:\"\\.]+"
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


def ascii_domain(email: str) -> str | None:
    """The address with an internationalised domain in its ASCII form (IDNA 2008, UTS 46).

    `zoé@exämple.fr` becomes `zoé@xn--exmple-cua.fr`, what DNS and every SMTP server take;
    an ASCII domain is left as it is; None when the domain is no valid IDN (a send would fail).
    """
    local, at, domain = email.rpartition("@")
    if not at or domain.isascii():
        return email
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except (idna.IDNAError, UnicodeError):
        return None


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
