"""From a candidate row to the render context and the outgoing message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from vivier.messages.catalog import Catalog
from vivier.messages.mime import OutgoingMessage, message_id_for
from vivier.messages.rendering import RenderedMessage
from vivier.messages.shown import NOTHING_SHOWN, Shown
from vivier.messages.tokens import preferences_url, unsubscribe_url
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


def render_context(
    candidate: dict[str, Any], catalog: Catalog, settings: Settings, period: Period, today: date,
    shown: Shown = NOTHING_SHOWN,
) -> dict[str, Any]:
    """Everything a template may use for one candidate: nothing else reaches it.

    Openings and content are in the candidate's language and field, and none of them was in an
    earlier message to them (`shown`); what the period's cadence does not show is left empty.
    """
    places = {
        value.casefold() for value in (candidate["search_location"], candidate["city"]) if value
    }
    language = language_of(candidate["locale"] or "")
    fields = {value.casefold() for value in (candidate["expertise"], candidate.get("segment"))
              if value}
    shows = SHOWS.get(period.cadence, _SHOWS_NOTHING)
    privileged = bool(candidate.get("privileged"))
    openings = (catalog.openings_for(candidate["expertise"], places, language, shown.jobs,
                                     privileged) if shows.openings else [])
    available = catalog.content_for(language, fields, shown.content)
    content = {kind: items[:shows.content.get(kind, 0)] for kind, items in available.items()}
    return {
        "candidate": {
            key: candidate[key]
            for key in ("id", "first_name", "last_name", "city", "expertise", "search_location")
        },
        "openings": openings,
        "content": content,
        "recruiter": signature(candidate, settings),
        "pool": {"privileged": privileged, "head_start_days": settings.privileged_head_start_days},
        "period": period.as_context(),
        "links": {
            "unsubscribe": unsubscribe_url(settings, candidate["id"]),
            "preferences": preferences_url(settings, candidate["id"]),
        },
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


def carries_nothing_new(context: dict[str, Any]) -> bool:
    """No opening and no content item in the message: everything fitting was sent before."""
    return not context["openings"] and not any(context["content"].values())


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
