"""`POST /hooks/events`: the email provider reports deliveries, opens, clicks, bounces, complaints, replies.

The body is a JSON list of events (an object `{"events": [...]}` is accepted too), signed:
`X-Vivier-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with VIVIER_WEBHOOK_SECRET>`.
No cookie, no form token: the signature is the credential (so the preference form's CSRF
check does not apply here). A payload with one invalid event records nothing, and says
which events and fields are wrong (never their values), so the provider can fix and resend.
Answers are JSON: 200 with the counts, 401 bad signature, 413 too large, 422 invalid,
503 hook not configured.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from app.web.context import WebContext, web_context
from vivier.imports.events import DEFAULT_SOURCE, check_source, ingest, parse_events

router = APIRouter()
Web = Annotated[WebContext, Depends(web_context)]
log = logging.getLogger("vivier.web.hooks")
MAX_BODY_BYTES = 1_000_000
SIGNATURE_HEADER = "X-Vivier-Signature"
SHOWN_PROBLEMS = 100


def signature_of(secret: str, body: bytes) -> str:
    """The header value that signs `body`: `sha256=<hex>`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _refused(status_code: int, error: str, **more: Any) -> JSONResponse:
    return JSONResponse({"error": error, **more}, status_code=status_code)


@router.post("/hooks/events")
async def provider_events(request: Request, web: Web, source: str = DEFAULT_SOURCE) -> JSONResponse:
    """Record a signed batch of provider events, each once; answer with the counts."""
    secret = web.settings.webhook_secret
    if secret is None or not secret.get_secret_value():
        return _refused(503, "the events hook is not configured: set VIVIER_WEBHOOK_SECRET "
                             "(the key your provider signs payloads with)")
    body = await _limited_body(request)
    if body is None:
        return _refused(413, f"payload larger than {MAX_BODY_BYTES:,} bytes: send smaller batches")
    given = request.headers.get(SIGNATURE_HEADER, "").strip().encode("utf-8", "replace")
    expected = signature_of(secret.get_secret_value(), body).encode("ascii")
    if not hmac.compare_digest(given, expected):
        log.warning("events hook: refused a payload with a missing or wrong signature")
        return _refused(401, f"missing or wrong {SIGNATURE_HEADER} header: expected "
                             "sha256=<hex HMAC-SHA256 of the raw body with the shared secret>")
    try:
        check_source(source)
        payload = json.loads(body)
    except ValueError as exc:
        return _refused(422, f"nothing was recorded: {exc}")
    items = payload.get("events") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        return _refused(422, 'nothing was recorded: the body must be a JSON list of events '
                             '(or {"events": [...]})')
    events, problems = parse_events(items)
    if problems:
        return _refused(422, f"nothing was recorded: {len({p.index for p in problems})} of "
                             f"{len(items)} event(s) are invalid; fix them and send the payload again",
                        problems=[asdict(problem) for problem in problems[:SHOWN_PROBLEMS]])
    result = await run_in_threadpool(ingest, web.engine, events, source)
    log.info("events hook: %d recorded, %d duplicates, %d orphans, %d suppressed, %d withdrawn",
             result.recorded, result.duplicates, result.orphans, result.suppressed, result.withdrawn)
    return JSONResponse(result.as_json())


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
