"""How a person is recognised: email addresses and ATS ids, normalised, hashed and keyed.

- `email_hash` (plain SHA-256 of the lower-cased address) is what `suppressions` keeps.
- Erased people leave *keyed* hashes (`erasure_key`: HMAC-SHA256 under a key derived from
  the secret key), so a leaked table cannot be reversed by hashing a list of addresses.
- ATS ids compare without case and Unicode compatibility forms (`DEMO-000001` is
  `demo-000001`): ATS ids are identifiers typed and exported by people and spreadsheets,
  and refusing a case-variant of an erased person's id is the safe side of the doubt.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

ERASURE_KINDS = ("email", "external_id")
_PURPOSE = b"vivier erasure keys v1"  # the secret signs links too: derive a key of its own


def normalise_email(email: str) -> str:
    """The form used for comparison: trimmed, lower-cased."""
    return email.strip().lower()


def email_hash(email: str) -> str:
    """SHA-256 hex of the normalised address: what `suppressions` keeps."""
    return hashlib.sha256(normalise_email(email).encode("utf-8")).hexdigest()


def normalise_ats_id(ats_id: str) -> str:
    """The form ATS ids compare in: trimmed, NFKC, case-folded."""
    return unicodedata.normalize("NFKC", ats_id.strip()).casefold()


def _normalised(kind: str, value: str) -> str:
    if kind == "email":
        return normalise_email(value)
    if kind == "external_id":
        return normalise_ats_id(value)
    raise ValueError(f"unknown erasure key kind {kind!r}: use one of {', '.join(ERASURE_KINDS)}")


@dataclass(frozen=True)
class ErasureKeys:
    """The secrets erasure keys are made with: the current one first, then retired ones."""

    secrets: tuple[str, ...]

    @classmethod
    def of(cls, secret: str, old_secrets: Sequence[str] = ()) -> ErasureKeys:
        return cls((secret, *old_secrets))

    def key(self, kind: str, value: str) -> str:
        """The keyed hash written when a person is erased (current secret)."""
        return _keyed(self.secrets[0], kind, value)

    def candidates(self, kind: str, value: str) -> list[str]:
        """Every keyed hash this value may have been stored under (current and retired secrets)."""
        return [_keyed(secret, kind, value) for secret in self.secrets]


def _keyed(secret: str, kind: str, value: str) -> str:
    derived = hmac.new(secret.encode("utf-8"), _PURPOSE, hashlib.sha256).digest()
    message = f"{kind}:{_normalised(kind, value)}".encode()
    return hmac.new(derived, message, hashlib.sha256).hexdigest()
