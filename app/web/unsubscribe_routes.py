"""Unsubscribe links: `POST /u/{token}` is RFC 8058 one-click; `GET` only asks to confirm.

Mail providers POST `List-Unsubscribe=One-Click` with no cookie and no session, and mail
scanners prefetch links with GET: so only the POST unsubscribes, and it needs nothing but
the signed link. It is exempt from the CSRF token by design (the link is the credential).
These pages offer no link to the preference page: the List-Unsubscribe URL travels in a
header that mailbox providers keep, and must not lead anyone to a page that gives consent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import HTMLResponse

from app.web.context import WebContext, web_context
from app.web.links import LinkProblem, candidate_for, evidence
from vivier.preferences import CandidateState, UnknownCandidate, read_state, unsubscribe

router = APIRouter()
Web = Annotated[WebContext, Depends(web_context)]
ONE_CLICK = "One-Click"


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(token: str, request: Request, web: Web) -> HTMLResponse:
    """A confirmation page with one button: opening the link changes nothing."""
    state = read_state(web.engine, candidate_for(web.settings, token, "unsubscribe"))
    return _render(web, request, "unsubscribe.html", token, state)


@router.post("/u/{token}", response_class=HTMLResponse)
def one_click_unsubscribe(
    token: str, request: Request, web: Web,
    list_unsubscribe: Annotated[str | None, Form(alias="List-Unsubscribe")] = None,
    via: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """Unsubscribe now (RFC 8058): suppression, consent withdrawn, interaction; 200."""
    candidate_id = candidate_for(web.settings, token, "unsubscribe")
    if list_unsubscribe != ONE_CLICK:
        raise LinkProblem("not_one_click")
    source = "preference_centre" if via == "page" else "one_click"
    unsubscribe(web.engine, candidate_id, evidence(request, token, source))
    try:
        state: CandidateState | None = read_state(web.engine, candidate_id)
    except UnknownCandidate:  # erased: already suppressed, and the provider still gets its 200
        state = None
    return _render(web, request, "unsubscribed.html", token, state)


def _render(
    web: WebContext, request: Request, page: str, token: str, state: CandidateState | None
) -> HTMLResponse:
    return web.pages.render(page, web.language_of(request, state.locale if state else None),
                            state=state, token=token, preferences_token=None)
