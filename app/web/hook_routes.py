"""`POST /hooks/events`: the email provider reports deliveries, opens, clicks, bounces, complaints, replies.

The body is a JSON list of events (an object `{"events": [...]}` is accepted too), signed:
`X-Vivier-Signature: sha256=<hex HMAC-SHA256 keyed with VIVIER_WEBHOOK_SECRET>` of the raw
body, or, with `?source=<name>` other than the default, of `<name>:` and the raw body, so a
captured payload cannot be replayed under another source's namespace of event ids.
No cookie, no form token: the signature is the credential (so the preference form's CSRF
check does not apply here). A payload with one invalid event records nothing, and says
which events and fields are wrong (never their values), so the provider can fix and resend.
Answers are JSON: 200 with the counts, 401 bad signature, 413 too large, 422 invalid,
500 our own bug (its type and the event's index, nothing else), 503 hook not configured.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import asdict, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from app.web.context import WebContext, web_context
from app.web.failures import log_failure, unexpected_json
from vivier.imports.events import (
    DEFAULT_SOURCE,
    EventProblem,
    ProviderEvent,
    check_source,
    ingest,
    parse_events,
)

router = APIRouter()
Web = Annotated[WebContext, Depends(web_context)]
log = logging.getLogger("vivier.web.hooks")
MAX_BODY_BYTES = 1_000_000
SIGNATURE_HEADER = "X-Vivier-Signature"
SHOWN_PROBLEMS = 100


def signature_of(secret: str, body: bytes, source: str = DEFAULT_SOURCE) -> str:
    """The header value that signs `body` for `source`: `sha256=<hex>`."""
    digest = hmac.new(secret.encode("utf-8"), signed_bytes(body, source), hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def signed_bytes(body: bytes, source: str) -> bytes:
    """What the signature covers: the body, after `<source>:` for any source but the default.

    A source name holds no ':', so no (source, body) pair signs the same bytes as another.
    """
    return body if source == DEFAULT_SOURCE else source.encode("utf-8", "replace") + b":" + body


def _refused(status_code: int, error: str, **more: Any) -> JSONResponse:
    return JSONResponse({"error": error, **more}, status_code=status_code)


@router.post("/hooks/events")
async def provider_events(request: Request, web: Web, source: str = DEFAULT_SOURCE) -> JSONResponse:
    """Record a signed batch of provider events, each once; answer with the counts."""
    secret = web.settings.webhook_secret
    if secret is None or not secret.get_secret_value().strip():  # blank is as good as unset
        return _refused(503, "the events hook is not configured: set VIVIER_WEBHOOK_SECRET "
                             "(the key your provider signs payloads with)")
    body = await _limited_body(request)
    if body is None:
        return _refused(413, f"payload larger than {MAX_BODY_BYTES:,} bytes: send smaller batches")
    given = request.headers.get(SIGNATURE_HEADER, "").strip().encode("utf-8", "replace")
    expected = signature_of(secret.get_secret_value(), body, source).encode("ascii")
    if not hmac.compare_digest(given, expected):
        log.warning("events hook: refused a payload with a missing or wrong signature")
        return _refused(401, f"missing or wrong {SIGNATURE_HEADER} header: expected "
                             "sha256=<hex HMAC-SHA256 with the shared secret of the raw body, "
                             "after '<source>:' when ?source= names another source than "
                             f"{DEFAULT_SOURCE!r}>")
    try:
        check_source(source)
    except ValueError as exc:
        return _refused(422, f"nothing was recorded: {exc}")
    payload, unreadable = _json(body)
    if unreadable:
        return _refused(422, f"nothing was recorded: {unreadable}")
    items = payload.get("events") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        return _refused(422, 'nothing was recorded: the body must be a JSON list of events '
                             '(or {"events": [...]})')
    events: list[ProviderEvent] = []
    problems: list[EventProblem] = []
    for index, item in enumerate(items):
        try:
            parsed, found = parse_events([item])
        except Exception as error:  # a parser bug: name the event, never its values
            log_failure(f"events hook: reading event {index}", error)
            return unexpected_json(error, index=index)
        events += parsed
        problems += [replace(problem, index=index) for problem in found]
    if problems:
        return _refused(422, f"nothing was recorded: {len({p.index for p in problems})} of "
                             f"{len(items)} event(s) are invalid; fix them and send the payload again",
                        problems=[asdict(problem) for problem in problems[:SHOWN_PROBLEMS]])
    result = await run_in_threadpool(ingest, web.engine, events, source)
    log.info("events hook: %d recorded, %d duplicates, %d orphans, %d suppressed, %d withdrawn",
             result.recorded, result.duplicates, result.orphans, result.suppressed, result.withdrawn)
    return JSONResponse(result.as_json())


def _json(body: bytes) -> tuple[Any, str | None]:
    """The body's JSON value, or why it is not usable JSON (a position at most, never content)."""
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as exc:
        return None, f"the body is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    except UnicodeDecodeError:
        return None, "the body is not JSON: it is not UTF-8 text"
    except RecursionError:
        return None, "the body is not usable JSON: it is nested too deeply"
    except ValueError:  # e.g. a number of more than 4,300 digits
        return None, "the body is not usable JSON: it holds a number too long to read"
    try:  # a \ud800 escape decodes to half a character, which no database can store
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return None, "the body is not usable JSON: a \\u escape is half of a character (lone surrogate)"
    except RecursionError:
        return None, "the body is not usable JSON: it is nested too deeply"
    return payload, None


async def _limited_body(request: Request) -> bytes | None:
    """The raw body, or None as soon as it passes MAX_BODY_BYTES (declared or actual)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)
