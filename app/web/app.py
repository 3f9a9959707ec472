"""The web app factory: routes, error pages, security headers, the stylesheet."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, Response

from app.web import hook_routes, preference_routes, unsubscribe_routes
from app.web.context import WebContext
from app.web.csrf import FormProblem
from app.web.failures import UnexpectedErrors
from app.web.headers import SecurityHeaders
from app.web.links import LinkProblem
from app.web.pages import Pages
from tasks.secrets import with_prefect_secrets
from vivier.preferences import UnknownCandidate
from vivier.settings import Settings, get_settings
from vivier.store import db


def create_app(settings: Settings | None = None) -> FastAPI:
    """The preference centre for these settings (default: the process settings)."""
    settings = with_prefect_secrets(settings or get_settings())  # VIVIER_*_BLOCK secrets, if any
    settings.require_signing_keys()  # forgeable links: refuse to serve at all (outside the demo)
    web = WebContext(settings, db.engine_for(settings.database_url),
                     Pages(settings.templates_dir, settings.sender_name_for))
    app = FastAPI(title="vivier preference centre", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.web = web
    app.include_router(preference_routes.router)
    app.include_router(unsubscribe_routes.router)
    app.include_router(hook_routes.router)

    def problem(request: Request, reason: str, status_code: int, days: int | None = None,
                title: str = "problem_title") -> Response:
        return web.pages.render("problem.html", web.browser_language(request), status_code,
                                reason=reason, days=days, title=title)

    def unexpected(request: Request) -> Response:
        return problem(request, "unexpected", 500, title="problem_unexpected_title")

    # Added last, so outermost: every answer, a 500 included, gets the security headers.
    app.add_middleware(UnexpectedErrors, problem_page=unexpected)
    app.add_middleware(SecurityHeaders, https=settings.public_base_url.startswith("https://"))

    @app.exception_handler(LinkProblem)
    def _link(request: Request, exc: LinkProblem) -> Response:
        return problem(request, exc.reason, exc.status_code, exc.days)

    @app.exception_handler(FormProblem)
    def _form(request: Request, exc: FormProblem) -> Response:
        return problem(request, exc.reason, 403)

    @app.exception_handler(UnknownCandidate)
    def _unknown(request: Request, exc: UnknownCandidate) -> Response:
        return problem(request, "unknown", 400)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return problem(request, "bad_choice", 400)

    @app.exception_handler(HTTPException)
    def _http(request: Request, exc: HTTPException) -> Response:
        return problem(request, "not_found", exc.status_code)

    @app.get("/assets/vivier.css", include_in_schema=False)
    def stylesheet() -> Response:
        return Response(web.pages.stylesheet, media_type="text/css",
                        headers={"cache-control": "public, max-age=86400"})

    @app.get("/healthz", include_in_schema=False)
    def health() -> Response:
        return PlainTextResponse("ok")

    return app
