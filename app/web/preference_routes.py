"""The preference page: `GET /p/{token}` shows the choices, `POST /p/{token}` saves them.

`POST /p/{token}/unsubscribe` is the page's "unsubscribe from all" button. The page hands
out no link of its own making (a fresh token would restart the link's age limit at every
visit and make links immortal): everything it offers acts on the link that opened it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import HTMLResponse

from app.web.context import WebContext, web_context
from app.web.csrf import check_form_token, form_token
from app.web.links import LinkProblem, candidate_for, evidence
from vivier.preferences import (
    CandidateState,
    Change,
    ChoiceRefused,
    Choices,
    apply_choices,
    read_state,
    unsubscribe,
)
from vivier.rules import places, vocabulary
from vivier.store.schema import FREQUENCIES

router = APIRouter()
Web = Annotated[WebContext, Depends(web_context)]
Field = Annotated[str | None, Form()]
_ANSWERS = {"yes": True, "no": False, None: None}


@router.get("/p/{token}", response_class=HTMLResponse)
def preference_page(token: str, request: Request, web: Web) -> HTMLResponse:
    """The candidate's current choices, in their language, ready to change."""
    state = read_state(web.engine, candidate_for(web.settings, token, "preferences"))
    return _page(web, request, token, state)


@router.post("/p/{token}", response_class=HTMLResponse)
def save_preferences(
    token: str, request: Request, web: Web, form_token: Field = None, consent: Field = None,
    frequency: Field = None, privileged: Field = None, expertise: Field = None,
    search_location: Field = None,
) -> HTMLResponse:
    """Save the form (CSRF-checked) and confirm what changed."""
    candidate_id = candidate_for(web.settings, token, "preferences")
    check_form_token(web.settings, form_token or "", token)
    if consent not in _ANSWERS or (frequency is not None and frequency not in FREQUENCIES):
        raise LinkProblem("bad_choice")
    choices = Choices(
        frequency=frequency, consent=_ANSWERS[consent],
        # Saying "no" leaves the pool whatever the box says; an unchecked box sends nothing.
        privileged=None if consent == "no" else privileged == "yes",
        # An empty select leaves the value as it is: the page never clears what the ATS holds.
        expertise=expertise or None, search_location=search_location or None,
    )
    try:
        changes = apply_choices(web.engine, candidate_id, choices,
                                evidence(request, token, "preference_centre"))
    except ChoiceRefused as refused:
        state = read_state(web.engine, candidate_id)
        return _page(web, request, token, state, error=f"error_{refused.choice}", status_code=422)
    state = read_state(web.engine, candidate_id)
    language = web.language_of(request, state.locale)
    return web.pages.render("saved.html", language, state=state, token=token,
                            sentences=describe(changes, web.pages.words[language], language))


@router.post("/p/{token}/unsubscribe", response_class=HTMLResponse)
def unsubscribe_from_the_page(
    token: str, request: Request, web: Web, form_token: Field = None
) -> HTMLResponse:
    """Unsubscribe from everything (CSRF-checked), and offer the way back on this same link."""
    candidate_id = candidate_for(web.settings, token, "preferences")
    check_form_token(web.settings, form_token or "", token)
    unsubscribe(web.engine, candidate_id, evidence(request, token, "preference_centre"))
    state = read_state(web.engine, candidate_id)
    return web.pages.render("unsubscribed.html", web.language_of(request, state.locale),
                            state=state, token=token, preferences_token=token)


def _page(
    web: WebContext, request: Request, token: str, state: CandidateState,
    error: str | None = None, status_code: int = 200,
) -> HTMLResponse:
    language = web.language_of(request, state.locale)
    return web.pages.render(
        "preferences.html", language, status_code,
        state=state, token=token, form_token=form_token(web.settings, token), error=error,
        consenting=state.consent == "granted" and not state.unsubscribed,
        frequencies=FREQUENCIES, retention_months=web.settings.retention_months,
        head_start_days=web.settings.privileged_head_start_days,
        fields=_options(vocabulary.EXPERTISES, state.expertise, vocabulary.expertise,
                        lambda value: vocabulary.field_label(value, language)),
        places=_options(places.search_locations(), state.search_location,
                        lambda value: (found.name if (found := places.place(value)) else None),
                        lambda value: places.label(value, language)),
    )


def _options(
    known: tuple[str, ...], current: str | None, canonical: Callable[[str], str | None],
    label: Callable[[str], str],
) -> list[tuple[str, str, bool]]:
    """(value, label, selected) of a select: the vocabulary's values, in the page's language,
    sorted by label; a current value the vocabulary does not know stays offered as it is."""
    chosen = canonical(current or "") or current
    options = sorted(((value, label(value), value == chosen) for value in known),
                     key=lambda option: option[1].casefold())
    if chosen and chosen not in known:
        options.insert(0, (chosen, label(chosen), True))
    return options


def describe(changes: list[Change], words: dict[str, str], language: str) -> list[str]:
    """One sentence per change, in the page's language."""
    sentences = []
    for change in changes:
        if change.what == "frequency":
            sentences.append(words["change_frequency"].format(
                before=words[f"frequency_{change.before}"].lower(),
                after=words[f"frequency_{change.after}"].lower()))
        elif change.what in ("expertise", "search_location"):
            name = vocabulary.field_label if change.what == "expertise" else places.label
            sentences.append(words[f"change_{change.what}"].format(
                before=name(change.before, language) if change.before else words["nothing_chosen"],
                after=name(change.after, language)))
        elif change.what == "privileged":
            sentences.append(words["change_privileged_joined" if change.after
                                   else "change_privileged_left"])
        elif change.what == "consent":
            sentences.append(words["change_consent_granted" if change.after == "granted"
                                   else "change_consent_withdrawn"])
        elif change.what == "unsubscribed":
            sentences.append(words["change_unsubscribed" if change.after else "change_resubscribed"])
    return sentences
