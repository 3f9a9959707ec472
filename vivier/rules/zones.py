"""A candidate's time zone: imported, else where they search, else their city, else the team's.

`candidate_zone` is the one rule (planning, `vivier why`, previews call it). The places are the
vocabulary's (`PLACE_ZONES`): a city-level place is more precise than a country, so a search
for "Canada" by someone whose city is Calgary gets Calgary's zone; "Remote" names no place.
The zone also says whose public holidays apply (country and subdivision, `holidays` codes):
a place's, else the zone's country (CLDR's zone territories, via Babel), else none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any
from zoneinfo import available_timezones

from babel.core import get_global

from vivier.rules.vocabulary import PLACE_ZONES, REGIONS

# Names zoneinfo accepts that are no place's zone: a host's local time and tzdata's internals.
_NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})
_COUNTRY_OF_REGION = {region.casefold(): PLACE_ZONES[region][1] for region in REGIONS
                      if region in PLACE_ZONES}


@dataclass(frozen=True)
class CandidateZone:
    """Where a candidate's clock is: the IANA zone, why it was chosen, whose holidays apply."""

    name: str
    source: str  # imported | search_location | city | team
    country: str | None = None  # ISO 3166 code for the holiday calendar
    subdivision: str | None = None  # a province, nation or region with holidays of its own

    def describe(self) -> str:
        """`America/Toronto (from where they search)`, for people reading `vivier why`."""
        return f"{self.name} ({_SOURCES[self.source]})"


_SOURCES = {"imported": "imported with the candidate", "search_location": "from where they search",
            "city": "from their city", "team": "the team's: no known place"}


@cache
def _zones_by_casefold() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones() - _NOT_PLACES}


def canonical_zone(name: str) -> str | None:
    """The IANA zone `name` spells (case aside: `europe/paris` is Europe/Paris), or None."""
    return _zones_by_casefold().get(name.strip().casefold())


def zone_country(zone: str) -> str | None:
    """The country a zone belongs to (CLDR), e.g. America/Vancouver → CA; None for Etc/UTC."""
    territory = get_global("zone_territories").get(zone)
    return territory if territory and territory != "001" else None


_PLACES = {place.casefold(): entry for place, entry in PLACE_ZONES.items()}


def _place(value: Any) -> tuple[str, str, str | None] | None:
    return _PLACES.get(value.strip().casefold()) if isinstance(value, str) else None


def _is_country(value: Any) -> bool:
    return isinstance(value, str) and value.strip().casefold() in _COUNTRY_OF_REGION


def candidate_zone(candidate: Mapping[str, Any], team_zone: str) -> CandidateZone:
    """The zone a candidate's messages are timed in; `candidate` is a row with `timezone`,
    `search_location` and `city` (missing keys count as empty).

    An imported zone wins (an unknown one is ignored here: the import refuses it). Then where
    they search, but a country search yields to their city when the city is in that country.
    """
    return _zone_of(candidate.get("timezone"), candidate.get("search_location"),
                    candidate.get("city"), team_zone)


@lru_cache(maxsize=4096)  # planning and every message ask it: a pool has a few dozen places
def _zone_of(imported: Any, search: Any, city: Any, team_zone: str) -> CandidateZone:
    if imported and (zone := canonical_zone(imported)):
        return CandidateZone(zone, "imported", zone_country(zone))
    searched, lives = _place(search), _place(city)
    if searched and lives and _is_country(search) and lives[1] == searched[1]:
        return CandidateZone(lives[0], "city", lives[1], lives[2])
    if searched:
        return CandidateZone(searched[0], "search_location", searched[1], searched[2])
    if lives:
        return CandidateZone(lives[0], "city", lives[1], lives[2])
    return CandidateZone(team_zone, "team", zone_country(team_zone))
