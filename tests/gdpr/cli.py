"""The GDPR verbs as people run them: the real `vivier` CLI."""

from __future__ import annotations

from app.cli import app

__all__ = ["app"]
