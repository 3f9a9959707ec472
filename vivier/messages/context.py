"""From a candidate row to the render context and the outgoing message."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from vivier.messages.catalog import Catalog
from vivier.messages.mime import OutgoingMessage, message_id_for
from vivier.messages.rendering import RenderedMessage
from vivier.messages.shown import NOTHING_SHOWN, Shown
from vivier.messages.tokens import link_urls
from vivier.rules.contact import language_of
from vivier.rules.zones import candidate_zone
from vivier.settings import Settings


class Period:
    """The period a run is for, as templates see it."""

    def __init__(self, cadence: str, key: str, start: date) -> None:
        self.cadence, self.key, self.start = cadence, key, start

    def as_context(self) -> dict[str, Any]:
        return {"cadence": self.cadence, "key": self.key, "start": self.start}


@dataclass(frozen=True)
class Shows:
    """What a cadence's message shows: openings or not, and how many items of each content kind."""

    openings: bool
    content: dict[str, int]
    check_in: bool = False  # the message is a question: sent even when it carries nothing new


# What each cadence's templates show. What a message does not show stays out of its context,
# so that what a send records as shown is what its reader saw (and may see later elsewhere).
SHOWS: dict[str, Shows] = {
    "weekly": Shows(openings=True, content={"tips": 1, "success_stories": 1}),
    "monthly": Shows(openings=False, content={"articles": 3, "news": 3, "events": 3}),
    "quarterly": Shows(openings=True, content={}, check_in=True),
}
_SHOWS_NOTHING = Shows(openings=False, content={})  # surveys and renewals: no catalog


class Selection:
    """What one candidate's message shows: the openings, and the content items of each kind."""

    __slots__ = ("openings", "content")

    def __init__(self, openings: list[dict[str, Any]],
                 content: dict[str, list[dict[str, Any]]]) -> None:
        self.openings, self.content = openings, content

    @property
    def nothing_new(self) -> bool:
        """No opening and no content item: everything fitting was sent before."""
        return not self.openings and not any(self.content.values())


# Selections per catalog (a run's, never changed once read), by what decides them: a pool has
# far fewer (field, places, language, shown) combinations than candidates. Bounded: past the
# limit a catalog's memo starts again (a run whose candidates were shown different items).
_SELECTIONS: dict[int, tuple[weakref.ref[Catalog], dict[tuple[Any, ...], Selection]]] = {}
_SELECTIONS_LIMIT = 20_000


def _selections(catalog: Catalog) -> dict[tuple[Any, ...], Selection]:
    found = _SELECTIONS.get(id(catalog))
    if found is not None and found[0]() is catalog:
        return found[1]
    for key, (ref, _) in list(_SELECTIONS.items()):  # a run's catalog is gone: so is its memo
        if ref() is None:
            _SELECTIONS.pop(key, None)
    memo: dict[tuple[Any, ...], Selection] = {}
    _SELECTIONS[id(catalog)] = (weakref.ref(catalog), memo)
    return memo


def select_items(
    candidate: dict[str, Any], catalog: Catalog, cadence: str, shown: Shown = NOTHING_SHOWN,
) -> Selection:
    """The openings and content a candidate's message of `cadence` shows (what `render_context`
    puts in it): in their language and field, none of them in an earlier message (`shown`).

    Planning needs only this (is there anything new?), not the whole context.
    """
    # Keyed by the raw values the choice reads (cheaper than the casefolded sets it builds).
    key = (cadence, candidate["expertise"], candidate["search_location"], candidate["city"],
           candidate["locale"], candidate.get("segment"), bool(candidate.get("privileged")),
           shown.jobs, shown.content)
    memo = _selections(catalog)
    found = memo.get(key)
    if found is None:
        found = _select(candidate, catalog, cadence, shown)
        if len(memo) >= _SELECTIONS_LIMIT:
            memo.clear()
        memo[key] = found
    # Each context its own lists: the memo's stay as they were whatever a caller does with them.
    return Selection(found.openings.copy(),
                     {kind: items.copy() for kind, items in found.content.items()})


def _select(candidate: dict[str, Any], catalog: Catalog, cadence: str, shown: Shown) -> Selection:
    places = {value.casefold() for value in (candidate["search_location"], candidate["city"])
              if value}
    language = language_of(candidate["locale"] or "")
    fields = {value.casefold() for value in (candidate["expertise"], candidate.get("segment"))
              if value}
    shows = SHOWS.get(cadence, _SHOWS_NOTHING)
    privileged = bool(candidate.get("privileged"))
    openings = (catalog.openings_for(candidate["expertise"], places, language, shown.jobs,
                                     privileged) if shows.openings else [])
    available = catalog.content_for(language, fields, shown.content)
    return Selection(openings, {kind: items[:shows.content.get(kind, 0)]
                                for kind, items in available.items()})


def render_context(
    candidate: dict[str, Any], catalog: Catalog, settings: Settings, period: Period, today: date,
    shown: Shown = NOTHING_SHOWN, *, selection: Selection | None = None,
) -> dict[str, Any]:
    """Everything a template may use for one candidate: nothing else reaches it.

    Openings and content are in the candidate's language and field, and none of them was in an
    earlier message to them (`shown`); what the period's cadence does not show is left empty.
    `selection`: what `select_items` already chose for this candidate, period and `shown`.
    """
    if selection is None:
        selection = select_items(candidate, catalog, period.cadence, shown)
    unsubscribe, preferences = link_urls(settings, candidate["id"])
    return {
        "candidate": {
            key: candidate[key]
            for key in ("id", "first_name", "last_name", "city", "expertise", "search_location")
        },
        "openings": selection.openings,
        "content": selection.content,
        "recruiter": signature(candidate, settings),
        "pool": {"privileged": bool(candidate.get("privileged")),
                 "head_start_days": settings.privileged_head_start_days},
        "period": period.as_context(),
        "links": {"unsubscribe": unsubscribe, "preferences": preferences},
        "today": today,
        # Dates and times are shown in the reader's zone and regional language (local_time.py).
        "zone": candidate_zone(candidate, settings.team_timezone).name,
        "locale": candidate["locale"] or "",
    }


def signature(candidate: dict[str, Any], settings: Settings) -> dict[str, str]:
    """Who signs: a privileged candidate's owner recruiter (from the ATS), else the team."""
    owner = candidate.get("owner_email")
    if candidate.get("privileged") and owner:
        return {"name": candidate.get("owner_name") or owner, "email": owner}
    return {"name": settings.recruiter_name, "email": settings.sender_address}


def is_check_in(cadence: str) -> bool:
    """The cadence's message is sent even with nothing new in it (the quarterly check-in)."""
    return SHOWS.get(cadence, _SHOWS_NOTHING).check_in


def outgoing(
    send_id: int, candidate: dict[str, Any], rendered: RenderedMessage, context: dict[str, Any],
    period: Period, settings: Settings, now: datetime,
) -> OutgoingMessage:
    name = " ".join(part for part in (candidate["first_name"], candidate["last_name"]) if part)
    return OutgoingMessage(
        send_id=send_id,
        candidate_id=candidate["id"],
        to_address=candidate["email"],
        to_name=name,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        locale=rendered.locale,
        message_id=message_id_for(period.cadence, period.key, candidate["id"], sender_domain(settings)),
        unsubscribe_url=context["links"]["unsubscribe"],
        date=now,
    )


def sender_domain(settings: Settings) -> str:
    return settings.sender_address.rsplit("@", 1)[-1]
