"""Where candidates search and openings are: cities, countries and remote work, in fr and en.

One entry per place, found by any of its names (`Royaume-Uni`, `United Kingdom`, `UK`, `GB`
are one country; `Montreal` is `Montréal`). Country names come from Babel (CLDR) in each
language, for every country; the vocabulary adds what CLDR does not hold: which cities are in
which country, and the preposition a phrase needs ("au Canada", "en France", "aux États-Unis",
"à Montréal"; "in Canada", "in the United Kingdom"). A value no entry knows is shown as given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from babel import Locale

LANGUAGES = ("fr", "en")
REMOTE = "Remote"  # the canonical value of a remote-work search or opening


@dataclass(frozen=True)
class Place:
    """One place: its canonical value, kind, country (ISO code), and its words per language."""

    name: str  # as stored and compared (the value feeds, imports and segments.yaml use)
    kind: str  # city | country | remote
    country: str | None  # ISO 3166 code of the country (a city's, or the country's own)
    labels: dict[str, str]  # language -> how the place is written
    phrases: dict[str, str]  # language -> the place with its preposition ("au Canada")
    aliases: tuple[str, ...] = field(default=())


# Cities the team recruits in, by country: (canonical name, English label if it differs,
# French label if it differs). A search in a country covers its cities.
CITIES: dict[str, tuple[tuple[str, str | None, str | None], ...]] = {
    "FR": tuple((name, None, None) for name in (
        "Paris", "Lyon", "Marseille", "Toulouse", "Nantes", "Bordeaux", "Lille", "Rennes",
        "Strasbourg", "Montpellier", "Nice", "Grenoble")),
    "CA": (("Montréal", None, None), ("Toronto", None, None), ("Québec", "Quebec City", None),
           ("Vancouver", None, None), ("Ottawa", None, None), ("Calgary", None, None)),
    "GB": (("London", None, "Londres"), ("Manchester", None, None), ("Bristol", None, None),
           ("Edinburgh", None, "Édimbourg"), ("Leeds", None, None)),
    "BE": (("Bruxelles", "Brussels", None),),
    "CH": (("Genève", "Geneva", None),),
}
# The canonical value of each country the team names (the rest are known by Babel's names).
COUNTRY_NAMES = {"FR": "France", "CA": "Canada", "GB": "United Kingdom", "BE": "Belgique",
                 "CH": "Suisse", "LU": "Luxembourg", "US": "United States"}
CITY_ALIASES = {"Montréal": ("Montreal",), "Québec": ("Quebec",), "Bruxelles": ("Brussels",),
                "Genève": ("Geneva", "Geneve")}
COUNTRY_ALIASES = {"GB": ("UK", "Great Britain", "Grande-Bretagne"), "US": ("USA", "US")}
REMOTE_ALIASES = ("Télétravail", "Teletravail", "Full remote", "À distance")

# French: "aux" for plural names, "à" for most islands, "au" for masculine names; the rest
# (feminine, or starting with a vowel) take "en". English: "the" before these names.
_FR_AUX = {"US", "NL", "PH", "AE", "KM", "SC", "MV", "BS", "MH", "SB", "FJ"}
_FR_A = {"CU", "MG", "MT", "CY", "SG", "MU", "HK", "MC", "TW", "BH", "LC", "BB", "JE", "GG"}
_FR_AU_DESPITE_E = {"MX", "KH", "MZ", "ZW", "BZ"}  # masculine though they end in "e"
_EN_THE = {"GB", "US", "NL", "PH", "AE", "BS", "GM", "DO", "CF", "MV", "SC", "KM", "SB", "MH",
           "CZ", "VA", "KY", "VG", "FK", "FO", "TC", "CK"}
_VOWELS = tuple("AEIOUYÉÈÊÎÏÔÖÛÜ")


def _fr_country_phrase(code: str, label: str) -> str:
    if code in _FR_AUX:
        return f"aux {label}"
    if code in _FR_A:
        return f"à {label}"
    if label.upper().startswith(_VOWELS):
        return f"en {label}"
    if label.endswith("e") and code not in _FR_AU_DESPITE_E:
        return f"en {label}"
    return f"au {label}"


def _en_country_phrase(code: str, label: str) -> str:
    return f"in the {label}" if code in _EN_THE else f"in {label}"


def _country(code: str) -> Place:
    labels = {language: Locale(language).territories[code] for language in LANGUAGES}
    return Place(
        name=COUNTRY_NAMES.get(code, labels["en"]), kind="country", country=code, labels=labels,
        phrases={"fr": _fr_country_phrase(code, labels["fr"]),
                 "en": _en_country_phrase(code, labels["en"])},
        # ISO codes only for the team's countries: "IT" or "NO" in a free-text field is no place.
        aliases=(*labels.values(), *((code,) if code in COUNTRY_NAMES else ()),
                 *COUNTRY_ALIASES.get(code, ())),
    )


def _city(name: str, code: str, english: str | None, french: str | None) -> Place:
    labels = {"fr": french or name, "en": english or name}
    return Place(name=name, kind="city", country=code, labels=labels,
                 phrases={"fr": f"à {labels['fr']}", "en": f"in {labels['en']}"},
                 aliases=(*labels.values(), *CITY_ALIASES.get(name, ())))


REMOTE_PLACE = Place(name=REMOTE, kind="remote", country=None,
                     labels={"fr": "Télétravail", "en": "Remote"},
                     phrases={"fr": "en télétravail", "en": "remote"}, aliases=REMOTE_ALIASES)


@lru_cache(maxsize=1)
def _countries() -> dict[str, Place]:
    """Every country CLDR names in both languages, by ISO code."""
    french = Locale("fr").territories
    codes = (str(code) for code in Locale("en").territories)  # regions are numeric ("150")
    return {code: _country(code) for code in codes
            if len(code) == 2 and code.isalpha() and code in french}


@lru_cache(maxsize=1)
def _index() -> dict[str, Place]:
    """Every name of every place, casefolded -> the place (the team's cities win over Babel)."""
    index: dict[str, Place] = {}
    for country in _countries().values():
        for alias in (country.name, *country.aliases):
            index.setdefault(alias.casefold(), country)
    for code, cities in CITIES.items():
        for name, english, french in cities:
            place = _city(name, code, english, french)
            for alias in (place.name, *place.aliases):
                index[alias.casefold()] = place
    for alias in (REMOTE, *REMOTE_ALIASES):
        index[alias.casefold()] = REMOTE_PLACE
    return index


def place(value: str | None) -> Place | None:
    """The place a value names (any of its names, any case), or None when none is known."""
    if not value or not value.strip():
        return None
    return _index().get(value.strip().casefold())


def label(value: str | None, language: str) -> str:
    """How `value` is written in `language` ("United Kingdom" -> "Royaume-Uni"); unknown: as given."""
    found = place(value)
    return found.labels.get(language, found.labels["en"]) if found else (value or "").strip()


def phrase(value: str | None, language: str) -> str:
    """`value` with its preposition in `language` ("au Canada", "à Montréal", "in Canada",
    "en télétravail"); a place no entry knows is taken for a city ("à Trifouillis")."""
    found = place(value)
    if found:
        return found.phrases.get(language, found.phrases["en"])
    text = (value or "").strip()
    return f"à {text}" if language == "fr" else f"in {text}"


def cities_of(country: str) -> tuple[str, ...]:
    """The canonical names of the team's cities in a country (by ISO code)."""
    return tuple(name for name, _, _ in CITIES.get(country, ()))


def covered_by(values: set[str]) -> set[str]:
    """Casefolded names a search covers: each place by all its names, a country's cities, and
    the country of each city (an opening "in Canada" fits someone searching in Toronto)."""
    covered: set[str] = set()
    for value in values:
        found = place(value)
        if found is None:
            covered.add(value.casefold())
            continue
        covered |= _names(found)
        if found.kind == "country" and found.country:
            for city in cities_of(found.country):
                covered |= _names(place(city))
        elif found.kind == "city" and found.country:
            covered |= _names(_countries().get(found.country))
    return covered


def _names(found: Place | None) -> set[str]:
    if found is None:
        return set()
    return {name.casefold() for name in (found.name, *found.aliases)}


def search_locations() -> tuple[str, ...]:
    """What a candidate may choose on the preference page: the team's countries and cities, remote."""
    return (*(COUNTRY_NAMES[code] for code in ("FR", "CA", "GB", "BE", "CH", "LU")),
            *(name for cities in CITIES.values() for name, _, _ in cities), REMOTE)
