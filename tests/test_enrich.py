"""Entities (short forms resolved to the fullest name) and date mentions."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.enrich import Mention, clean_name, enrich, load_nlp, resolve_entities
from etl.extract import extract
from etl.record import Article
from etl.settings import DEFAULT_MODEL
from etl.sources import read_file
from tests.conftest import SEED_PEOPLE, SEED_PLACES


def by_type(entities: list, etype: str) -> dict[str, int]:
    return {e.name: e.count for e in entities if e.type == etype}


def test_short_forms_and_possessives_count_for_the_full_name() -> None:
    mentions = [
        Mention("Vladimir Putin", "PERSON"),
        Mention("Putin", "PERSON"),
        Mention("Putin’s", "PERSON"),
        Mention("Putin's", "PERSON"),
        Mention("Jared Kushner", "PERSON"),
        Mention("Kushner", "ORG"),  # the model mislabels a lone surname as an organisation
        Mention("President Donald Trump", "PERSON"),
        Mention("Trump", "PERSON"),
    ]
    people = by_type(resolve_entities(mentions), "person")
    assert people == {"Vladimir Putin": 4, "Jared Kushner": 2, "Donald Trump": 2}
    assert by_type(resolve_entities(mentions), "organization") == {}


def test_a_lone_word_seen_only_inside_place_names_is_not_a_person() -> None:
    mentions = [
        Mention("Rotterdam", "PERSON"),
        Mention("the Port of Rotterdam", "LOC"),
        Mention("Rotterdam", "PERSON"),
        Mention("Okafor", "PERSON"),
    ]
    types = {e.name: (e.type, e.count) for e in resolve_entities(mentions)}
    assert types == {
        "Rotterdam": ("location", 2),
        "Port of Rotterdam": ("location", 1),
        "Okafor": ("person", 1),
    }


def test_a_lone_surname_without_a_full_name_stays_as_written() -> None:
    people = by_type(resolve_entities([Mention("Okafor", "PERSON")]), "person")
    assert people == {"Okafor": 1}


def test_shared_surname_goes_to_the_person_named_most_often() -> None:
    mentions = [Mention("Hillary Clinton", "PERSON")] * 3 + [
        Mention("Bill Clinton", "PERSON"),
        Mention("Clinton", "PERSON"),
    ]
    people = by_type(resolve_entities(mentions), "person")
    assert people == {"Hillary Clinton": 4, "Bill Clinton": 1}


def test_acronym_counts_for_the_organisation_it_abbreviates() -> None:
    mentions = [Mention("the European Central Bank", "ORG"), Mention("ECB", "ORG")]
    assert by_type(resolve_entities(mentions), "organization") == {"European Central Bank": 2}


def test_types_are_grouped() -> None:
    mentions = [
        Mention("Berlin", "GPE"),
        Mention("the Alps", "LOC"),
        Mention("Heathrow", "FAC"),
        Mention("Kenyans", "NORP"),
        Mention("the Olympics", "EVENT"),
        Mention("42", "CARDINAL"),
    ]
    types = {e.name: e.type for e in resolve_entities(mentions)}
    assert types == {
        "Berlin": "location",
        "Alps": "location",
        "Heathrow": "location",
        "Kenyans": "group",
        "Olympics": "event",
    }


def test_clean_name() -> None:
    assert clean_name("“Putin’s") == "Putin"
    assert clean_name("the United Nations") == "United Nations"


@pytest.fixture(scope="module")
def seed_article() -> Article:
    seed = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "000_4b628f65354b724e.txt"
    if not seed.exists():
        pytest.skip("the example article is not beside this checkout")
    raw = next(read_file(seed, 10_000_000))
    article = extract(raw)
    article.published = "2025-12-01"  # a fixed reference date, so relative dates are testable
    enrich([article], load_nlp(DEFAULT_MODEL))
    return article


def test_seed_people_counted_as_people(seed_article: Article) -> None:
    people = by_type(seed_article.entities, "person")
    assert people.keys() >= SEED_PEOPLE, people
    assert people["Vladimir Putin"] >= 5
    assert "Putin" not in people
    assert "Kushner" not in by_type(seed_article.entities, "organization")


def test_seed_places(seed_article: Article) -> None:
    places = by_type(seed_article.entities, "location")
    assert places.keys() >= SEED_PLACES, places


def test_seed_dates_are_normalised_against_the_publication_date(seed_article: Article) -> None:
    mentions = {m.text: m for m in seed_article.date_mentions}
    assert mentions["2014"].value == "2014"
    assert mentions["2014"].granularity == "year"
    assert mentions["Thursday"].granularity == "day"
    assert mentions["Thursday"].relative
    assert mentions["this fall"].value == "2025-FA"
    assert seed_article.to_document()["mentioned_year"] == [2014, 2025]


def test_non_english_article_gets_no_entities_but_a_warning(examples: Path) -> None:
    raw = next(read_file(examples / "rheinblick-rundschau-koeln-stadtbahn-porz.html", 10_000_000))
    article = extract(raw)
    enrich([article], load_nlp(DEFAULT_MODEL))
    assert article.language == "de"
    assert article.entities == []
    assert "language_not_supported_by_ner" in article.warning


def test_missing_model_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="not installed"):
        load_nlp("no_such_model_xyz")
