"""What every route needs (settings, database, pages), built once per app."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from starlette.requests import Request

from app.web.pages import Pages
from vivier.settings import Settings


@dataclass(frozen=True)
class WebContext:
    settings: Settings
    engine: Engine
    pages: Pages

    def browser_language(self, request: Request) -> str:
        return self.pages.language(None, request.headers.get("accept-language"))

    def language_of(self, request: Request, locale: str | None) -> str:
        return self.pages.language(locale, request.headers.get("accept-language"))


def web_context(request: Request) -> WebContext:
    """The app's context (a FastAPI dependency)."""
    context: WebContext = request.app.state.web
    return context
