"""From a candidate row to the render context and the outgoing message."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from vivier.messages.catalog import Catalog
from vivier.messages.mime import OutgoingMessage, message_id_for
from vivier.messages.rendering import RenderedMessage
from vivier.messages.tokens import preferences_url, unsubscribe_url
from vivier.rules.contact import language_of
from vivier.settings import Settings


class Period:
    """The period a run is for, as templates see it."""

    def __init__(self, cadence: str, key: str, start: date) -> None:
        self.cadence, self.key, self.start = cadence, key, start

    def as_context(self) -> dict[str, Any]:
        return {"cadence": self.cadence, "key": self.key, "start": self.start}


def render_context(
    candidate: dict[str, Any], catalog: Catalog, settings: Settings, period: Period, today: date
) -> dict[str, Any]:
    """Everything a template may use for one candidate: nothing else reaches it."""
    places = {
        value.casefold() for value in (candidate["search_location"], candidate["city"]) if value
    }
    return {
        "candidate": {
            key: candidate[key]
            for key in ("id", "first_name", "last_name", "city", "expertise", "search_location")
        },
        "openings": catalog.openings_for(candidate["expertise"], places),
        "content": catalog.content_for(language_of(candidate["locale"] or "")),
        "recruiter": {"name": settings.recruiter_name, "email": settings.sender_address},
        "period": period.as_context(),
        "links": {
            "unsubscribe": unsubscribe_url(settings, candidate["id"]),
            "preferences": preferences_url(settings, candidate["id"]),
        },
        "today": today,
    }


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
