"""A candidate's zone and send window, as pure rules: whose clock, which hours, which days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vivier.rules.send_window import SendWindow, WindowProblem, is_day_off, last_moment, opening
from vivier.rules.vocabulary import PLACE_ZONES, SEARCH_LOCATIONS
from vivier.rules.zones import CandidateZone, candidate_zone, canonical_zone
from vivier.settings import SettingsError, load_settings

PARIS = ZoneInfo("Europe/Paris")
TEAM = "Europe/Paris"
DEFAULT = SendWindow.parse("mon-fri 09:00-11:30")


def zone_of(**candidate: str | None) -> CandidateZone:
    return candidate_zone(candidate, TEAM)


def paris(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


# --- whose clock ------------------------------------------------------------------------------

def test_an_imported_zone_wins_and_is_spelled_as_iana_spells_it() -> None:
    zone = zone_of(timezone="america/vancouver", search_location="Montréal", city="Lyon")
    assert (zone.name, zone.source, zone.country) == ("America/Vancouver", "imported", "CA")
    assert canonical_zone(" Europe/London ") == "Europe/London"
    assert canonical_zone("Mars/Olympus") is None and canonical_zone("localtime") is None


def test_where_they_search_comes_before_their_city() -> None:
    assert zone_of(search_location="Montréal", city="Lyon") == CandidateZone(
        "America/Toronto", "search_location", "CA", "QC")
    assert zone_of(search_location="London", city="Toronto").name == "Europe/London"


def test_a_country_search_yields_to_a_city_in_that_country_only() -> None:
    assert zone_of(search_location="Canada", city="Vancouver") == CandidateZone(
        "America/Vancouver", "city", "CA", "BC")
    # A Lyon resident searching all of Canada: the country's default zone (documented: Eastern).
    assert zone_of(search_location="Canada", city="Lyon") == CandidateZone(
        "America/Toronto", "search_location", "CA", None)


def test_a_remote_or_unknown_place_falls_back_to_the_city_then_the_team() -> None:
    assert zone_of(search_location="Remote", city="Edinburgh") == CandidateZone(
        "Europe/London", "city", "GB", "SCT")
    assert zone_of(search_location="Remote", city="Atlantis") == CandidateZone(
        "Europe/Paris", "team", "FR", None)
    assert zone_of().source == "team"


def test_every_place_of_the_vocabulary_has_a_real_zone_and_a_holiday_calendar() -> None:
    for place in SEARCH_LOCATIONS:
        if place != "Remote":
            assert place in PLACE_ZONES, f"{place} has no time zone"
    for place, (zone, country, _) in PLACE_ZONES.items():
        assert canonical_zone(zone) == zone, place
        assert is_day_off(date(2026, 12, 25), DEFAULT, CandidateZone(zone, "city", country)), place


# --- which hours ----------------------------------------------------------------------------

def test_a_montreal_candidate_planned_monday_9_paris_may_leave_at_14_utc() -> None:
    montreal = zone_of(search_location="Montréal")
    assert opening(DEFAULT, montreal, paris(2026, 11, 23)) == datetime(2026, 11, 23, 14, tzinfo=UTC)
    # …and a Paris one at once: 09:00 Paris is 08:00 UTC.
    assert opening(DEFAULT, zone_of(city="Lyon"), paris(2026, 11, 23)) == \
        datetime(2026, 11, 23, 8, tzinfo=UTC)


@pytest.mark.parametrize(("planned", "montreal_utc"), [
    # America moved to summer time on 8 March, Europe on 29 March: 09:00 EDT is 13:00 UTC.
    (paris(2026, 3, 9), datetime(2026, 3, 9, 13, tzinfo=UTC)),
    (paris(2026, 3, 30), datetime(2026, 3, 30, 13, tzinfo=UTC)),
    # Europe went back on 25 October, America on 1 November: 13:00 UTC, then 14:00 UTC.
    (paris(2026, 10, 26), datetime(2026, 10, 26, 13, tzinfo=UTC)),
    (paris(2026, 11, 2), datetime(2026, 11, 2, 14, tzinfo=UTC)),
])
def test_daylight_saving_time_on_either_side_moves_the_utc_instant_not_the_hour(
        planned: datetime, montreal_utc: datetime) -> None:
    assert opening(DEFAULT, zone_of(search_location="Montréal"), planned) == montreal_utc


def test_planned_inside_a_window_it_leaves_at_once_after_it_the_next_morning() -> None:
    lyon = zone_of(city="Lyon")
    assert opening(DEFAULT, lyon, paris(2026, 11, 24, 11, 29)) == paris(2026, 11, 24).astimezone(UTC)
    assert opening(DEFAULT, lyon, paris(2026, 11, 24, 11, 30)) == paris(2026, 11, 25).astimezone(UTC)
    assert opening(DEFAULT, lyon, paris(2026, 11, 27, 12)) == paris(2026, 11, 30).astimezone(UTC)  # Friday


# --- which days ------------------------------------------------------------------------------

def test_a_public_holiday_of_the_candidates_country_moves_the_message_to_the_next_working_day() -> None:
    # 24 June is Québec's Fête nationale, not Ontario's nor France's.
    planned = paris(2026, 6, 24)
    assert opening(DEFAULT, zone_of(search_location="Montréal"), planned) == \
        datetime(2026, 6, 25, 13, tzinfo=UTC)
    assert opening(DEFAULT, zone_of(search_location="Toronto"), planned) == \
        datetime(2026, 6, 24, 13, tzinfo=UTC)
    # St Andrew's Day (Monday 30 November 2026) is Scotland's only.
    monday = paris(2026, 11, 30)
    assert opening(DEFAULT, zone_of(city="Edinburgh"), monday) == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert opening(DEFAULT, zone_of(city="London"), monday) == datetime(2026, 11, 30, 9, tzinfo=UTC)
    # Easter Monday in France: Tuesday.
    assert opening(DEFAULT, zone_of(city="Lyon"), paris(2026, 4, 6)) == paris(2026, 4, 7).astimezone(UTC)


def test_the_first_of_january_is_never_a_send_day_even_where_the_window_covers_every_day() -> None:
    every_day = SendWindow.parse("mon-sun 00:00-24:00")
    nowhere = CandidateZone("Etc/UTC", "imported", None)  # no holiday calendar at all
    assert opening(every_day, nowhere, datetime(2027, 1, 1, 9, tzinfo=UTC)) == \
        datetime(2027, 1, 2, tzinfo=UTC)
    # The quarterly run of 1 January 2027 (a Friday): Monday 4 January in Paris.
    assert opening(DEFAULT, zone_of(city="Lyon"), paris(2027, 1, 1)) == paris(2027, 1, 4).astimezone(UTC)


def test_always_means_now() -> None:
    moment = paris(2027, 1, 1, 3)
    assert opening(SendWindow.parse("always"), zone_of(city="Lyon"), moment) == moment


# --- the lateness limit ---------------------------------------------------------------------

def test_the_last_moment_is_the_end_of_the_lateness_limits_last_day_in_the_team_calendar() -> None:
    assert last_moment(date(2026, 11, 23), 6, TEAM, paris(2026, 11, 23)) == \
        paris(2026, 11, 30, 0).astimezone(UTC)
    # A run forced past the limit gets the same allowance from the day it plans.
    assert last_moment(date(2026, 11, 23), 6, TEAM, paris(2026, 12, 2)) == \
        paris(2026, 12, 9, 0).astimezone(UTC)


# --- the setting ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "problem"), [
    ("weekdays 9-11", "is not a send window"), ("mon-fri 11:30-09:00", "must end after it starts"),
    ("mon-fri 09:00-25:00", "not a time of day"), ("mon-fry 09:00-11:30", "days are mon"),
])
def test_a_send_window_that_cannot_be_read_is_refused_naming_the_variable(text: str, problem: str) -> None:
    with pytest.raises(WindowProblem, match=problem):
        SendWindow.parse(text)
    with pytest.raises(SettingsError, match=rf"VIVIER_SEND_HOURS_MONTHLY: .*{problem}"):
        load_settings(send_hours_monthly=text)


def test_the_default_window_is_weekday_mornings_and_the_survey_follows_the_monthly() -> None:
    defaults = load_settings(send_hours_monthly="sat-sun 10:00-12:00")
    assert str(defaults.send_hours("weekly")) == "mon,tue,wed,thu,fri 09:00-11:30"
    assert str(defaults.send_hours("consent_survey")) == "sat,sun 10:00-12:00"
    assert defaults.send_hours("quarterly").length == timedelta(hours=2, minutes=30)


# --- the property: a year of dates, every zone of the vocabulary ----------------------------

ZONES = sorted({CandidateZone(zone, "city", country, subdivision)
                for zone, country, subdivision in PLACE_ZONES.values()}, key=str)


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31, 23, 59),
                           timezones=st.just(UTC)),
       zone=st.sampled_from(ZONES))
def test_not_before_is_the_first_window_opening_on_a_working_day_that_has_not_closed(
        moment: datetime, zone: CandidateZone) -> None:
    found = opening(DEFAULT, zone, moment)
    local = found.astimezone(ZoneInfo(zone.name))
    assert local.time() == time(9, 0)  # 09:00 on the candidate's wall clock, whatever DST does
    assert not is_day_off(local.date(), DEFAULT, zone)
    assert found + timedelta(hours=2, minutes=30) > moment  # its window had not closed
    day = moment.astimezone(ZoneInfo(zone.name)).date()
    while day < local.date():  # no earlier send day whose window was still to come
        closes = datetime.combine(day, time(11, 30), tzinfo=ZoneInfo(zone.name))
        assert is_day_off(day, DEFAULT, zone) or closes <= moment
        day += timedelta(days=1)
