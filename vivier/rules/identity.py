"""How an email address is normalised and hashed (suppressions outlive the address)."""

from __future__ import annotations

import hashlib


def normalise_email(email: str) -> str:
    """The form used for comparison: trimmed, lower-cased."""
    return email.strip().lower()


def email_hash(email: str) -> str:
    """SHA-256 hex of the normalised address: what `suppressions` keeps."""
    return hashlib.sha256(normalise_email(email).encode("utf-8")).hexdigest()
