"""Unexpected errors: a 500 that names where and what type of error, never its message.

An exception's message may quote what it choked on (a date, an address, a row), so neither
the answer nor the log repeats it: the log gets the request (link tokens cut out), the
exception type and the code locations it went through, which is enough to find the bug.
The exception stops here, so uvicorn has nothing to print a traceback of.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.web.headers import redacted

log = logging.getLogger("vivier.web")
ProblemPage = Callable[[Request], Response]


def where_it_failed(error: BaseException) -> str:
    """The code locations of a traceback (file, line, function, source line), without any value."""
    return "".join(traceback.format_list(traceback.extract_tb(error.__traceback__)))


def log_failure(what: str, error: BaseException) -> None:
    """Log an unexpected error by its type and code locations: its message may hold personal data."""
    log.error("%s failed with %s (message withheld: it may quote personal data)\n%s",
              what, type(error).__name__, where_it_failed(error))


def unexpected_json(error: BaseException, **more: object) -> JSONResponse:
    """The JSON 500 of the API routes: the exception type, nothing it carried."""
    return JSONResponse({"error": f"unexpected {type(error).__name__}: nothing was recorded; "
                                  "the operator can find it in the web app's log", **more},
                        status_code=500)


class UnexpectedErrors:
    """ASGI middleware: any uncaught exception becomes a data-free 500 (JSON under /hooks/)."""

    def __init__(self, app: ASGIApp, *, problem_page: ProblemPage) -> None:
        self.app = app
        self.problem_page = problem_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as error:  # the last place a request's error can be caught
            log_failure(f"{scope['method']} {redacted(scope['path'])}", error)
            if not started:
                await self._answer(scope, error)(scope, receive, send)

    def _answer(self, scope: Scope, error: Exception) -> Response:
        if scope["path"].startswith("/hooks/"):
            return unexpected_json(error)
        try:
            return self.problem_page(Request(scope))
        except Exception as page_error:  # the page itself must not hide the 500
            log_failure("rendering the error page", page_error)
            return PlainTextResponse("Something went wrong on our side.", status_code=500)
