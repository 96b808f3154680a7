"""Entities (short forms resolved to the fullest name) and date mentions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from etl.enrich import enrich, load_nlp
from etl.entities import Mention, resolve_entities
from etl.entity_names import clean_name
from etl.extract import extract
from etl.record import Article
from etl.settings import DEFAULT_MODEL
from etl.sources import read_file
from tests.conftest import SEED_PEOPLE, SEED_PLACES
from tests.paths import SEED


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
    if not SEED.exists():
        pytest.skip("the example article is not beside this checkout")
    raw = next(read_file(SEED, 10_000_000))
    # A fixed reference date, so relative dates are testable.
    article = replace(extract(raw), published="2025-12-01")
    (article,) = enrich([article], load_nlp(DEFAULT_MODEL))
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
    (article,) = enrich([extract(raw)], load_nlp(DEFAULT_MODEL))
    assert article.language == "de"
    assert article.entities == []
    assert "language_not_supported_by_ner" in article.warning


def test_missing_model_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="not installed"):
        load_nlp("no_such_model_xyz")


# --- names: punctuation, titles, scores (issue 11) ----------------------------------------


def names(mentions: list[Mention], etype: str) -> set[str]:
    return {e.name for e in resolve_entities(mentions) if e.type == etype}


def test_meaningful_full_stops_are_kept() -> None:
    assert clean_name("U.S.") == "U.S."
    assert clean_name("the U.S.’s") == "U.S."
    assert clean_name("Apple Inc.") == "Apple Inc."
    assert clean_name("Martin Luther King Jr.") == "Martin Luther King Jr."
    assert clean_name("Washington, D.C.") == "Washington, D.C."
    assert clean_name("Jones.") == "Jones"  # a sentence's full stop is not part of a name
    people = names([Mention("Martin Luther King Jr.", "PERSON")], "person")
    assert people == {"Martin Luther King Jr."}
    orgs = names([Mention("Apple Inc.", "ORG")], "organization")
    assert orgs == {"Apple Inc."}


def test_titles_and_role_words_are_not_part_of_a_persons_name() -> None:
    mentions = [
        Mention("Defender Hassan Abbas", "PERSON"),
        Mention("Chancellor Friedrich Merz", "PERSON"),
        Mention("Gen. Mark Milley", "PERSON"),
        Mention("former President Barack Obama", "PERSON"),
        Mention("Prime Minister Keir Starmer", "PERSON"),
    ]
    assert names(mentions, "person") == {
        "Hassan Abbas",
        "Friedrich Merz",
        "Mark Milley",
        "Barack Obama",
        "Keir Starmer",
    }


def test_a_royal_title_stays_before_a_single_name() -> None:
    mentions = [
        Mention("King Charles", "PERSON"),
        Mention("Crown Prince Mohammed bin Salman", "PERSON"),
    ]
    assert names(mentions, "person") == {"King Charles", "Mohammed bin Salman"}


def test_trailing_scores_and_numbers_are_dropped() -> None:
    mentions = [
        Mention("Crystal Palace 2", "FAC"),  # a result line: "Crystal Palace 2 Everton 1"
        Mention("Atletico Madrid 2-1", "GPE"),
        Mention("Crystal Palace", "ORG"),
    ]
    entities = {(e.name, e.type) for e in resolve_entities(mentions)}
    assert entities == {("Crystal Palace", "organization"), ("Atletico Madrid", "organization")}


def test_a_number_on_every_mention_is_part_of_the_name() -> None:
    mentions = [Mention("Formula 1", "ORG"), Mention("Formula 1", "ORG")]
    assert names(mentions, "organization") == {"Formula 1"}


def test_words_around_a_name_in_lower_case_are_no_person() -> None:
    mentions = [Mention("gibt der Patient", "PERSON"), Mention("naira", "GPE")]
    assert resolve_entities(mentions) == []


# --- headlines ----------------------------------------------------------------------------


def test_an_all_capitals_headline_never_creates_a_person() -> None:
    alone = [Mention("BURE SUSPENDED", "PERSON", shouted=True), Mention("Chris Chelios", "PERSON")]
    assert names(alone, "person") == {"Chris Chelios"}
    # ... but counts for a name the text also writes normally
    mentions = [
        Mention("BURE", "PERSON", shouted=True),
        Mention("Pavel Bure", "PERSON"),
        Mention("Bure", "PERSON"),
    ]
    people = {e.name: e.count for e in resolve_entities(mentions) if e.type == "person"}
    assert people == {"Pavel Bure": 3}


def test_all_capitals_lines_are_found() -> None:
    from etl.entity_names import shouted_lines

    text = "Sports in brief\nBURE SUSPENDED\nThe NHL suspended Pavel Bure on Monday."
    (span,) = shouted_lines(text)
    assert text[span[0] : span[1]] == "BURE SUSPENDED"


# --- types by majority; short forms of the same type ----------------------------------------


def test_a_names_type_is_the_one_most_of_its_mentions_give() -> None:
    mentions = [
        Mention("Novorossiya", "ORG"),
        Mention("Novorossiya", "WORK_OF_ART"),
        Mention("Novorossiya", "ORG"),
        Mention("Acme Widgets", "PERSON"),
        Mention("Acme Widgets", "ORG"),
        Mention("Acme Widgets", "ORG"),
    ]
    types = {e.name: e.type for e in resolve_entities(mentions)}
    assert types == {"Novorossiya": "organization", "Acme Widgets": "organization"}


def test_a_persons_surname_never_joins_an_organisation() -> None:
    mentions = [
        Mention("Goldman Sachs", "ORG"),
        Mention("Goldman Sachs", "ORG"),
        Mention("Sachs", "PERSON"),
    ]
    entities = resolve_entities(mentions)
    orgs = [e for e in entities if e.type == "organization"]
    assert [(e.name, e.aliases) for e in orgs] == [("Goldman Sachs", [])]


def test_a_full_name_mistyped_once_is_the_person_its_surname_names() -> None:
    """ "Salem Bitar" tagged as an organisation once, "Bitar" as a person three times."""
    mentions = [Mention("Salem Bitar", "ORG")] + [Mention("Bitar", "PERSON")] * 3
    entities = resolve_entities(mentions)
    assert [(e.name, e.type, e.count) for e in entities] == [("Salem Bitar", "person", 4)]


def test_short_forms_of_organisations() -> None:
    mentions = [
        Mention("Crystal Palace", "ORG"),
        Mention("Palace", "ORG"),
        Mention("BHP Group", "ORG"),
        Mention("BHP", "ORG"),
        Mention("Apple Inc.", "ORG"),
        Mention("Apple", "ORG"),
    ]
    entities = {e.name: (e.count, e.aliases) for e in resolve_entities(mentions)}
    assert entities == {
        "Crystal Palace": (2, ["Palace"]),
        "BHP Group": (2, ["BHP"]),
        "Apple": (2, ["Apple Inc."]),  # the bare name, as the document also says
    }


def test_a_place_is_never_the_alias_of_an_organisation_named_after_it() -> None:
    mentions = [
        Mention("Munich Re", "ORG"),
        Mention("Munich", "GPE"),
        Mention("Munich", "ORG"),
        Mention("Real Madrid", "ORG"),
        Mention("Madrid", "GPE"),
    ]
    entities = {e.name: (e.type, e.aliases) for e in resolve_entities(mentions)}
    assert entities == {
        "Munich Re": ("organization", []),
        "Munich": ("location", []),
        "Real Madrid": ("organization", []),
        "Madrid": ("location", []),
    }


# --- places ------------------------------------------------------------------------------


def test_one_country_one_facet_value_with_its_code() -> None:
    mentions = [
        Mention("U.S.", "GPE"),
        Mention("US", "GPE"),
        Mention("the United States", "GPE"),
        Mention("America", "GPE"),
    ]
    (usa,) = resolve_entities(mentions)
    assert (usa.name, usa.type, usa.count, usa.country) == ("United States", "location", 4, "US")
    assert set(usa.aliases) == {"U.S.", "US", "America"}


def test_places_the_model_called_organisations_or_people_are_places() -> None:
    mentions = [
        Mention("Crimea", "ORG"),
        Mention("the Russian Federation", "ORG"),
        Mention("Kyiv", "PERSON"),
        Mention("Azerbaijan", "PERSON"),
    ]
    places = {e.name: (e.type, e.country) for e in resolve_entities(mentions)}
    assert places == {
        "Crimea": ("location", "UA"),
        "Russia": ("location", "RU"),
        "Kyiv": ("location", "UA"),
        "Azerbaijan": ("location", "AZ"),
    }


def test_a_demonym_the_model_called_a_place_is_a_group() -> None:
    types = {e.name: e.type for e in resolve_entities([Mention("Ukrainian", "GPE")])}
    assert types == {"Ukrainian": "group"}


def test_country_facet_from_every_place() -> None:
    from tests.records import full_article

    article = replace(
        full_article(),
        entities=resolve_entities(
            [Mention("Moscow", "GPE"), Mention("Texas", "GPE"), Mention("Donbas", "GPE")]
        ),
    )
    assert set(article.to_document()["country"]) == {"RU", "US", "UA"}


# --- one facet value across documents ---------------------------------------------------------


def test_the_same_person_or_place_has_one_name_in_every_document() -> None:
    first = resolve_entities(
        [Mention("President Vladimir Putin", "PERSON"), Mention("U.S.", "GPE")]
    )
    second = resolve_entities(
        [Mention("Putin", "PERSON"), Mention("Vladimir Putin", "PERSON"), Mention("America", "GPE")]
    )
    third = resolve_entities([Mention("Putin’s", "PERSON"), Mention("Vladimir Putin’s", "PERSON")])
    facet = [{(e.type, e.name) for e in doc} for doc in (first, second, third)]
    assert ("person", "Vladimir Putin") in facet[0] & facet[1] & facet[2]
    assert ("location", "United States") in facet[0] & facet[1]
    assert all(len({n for t, n in f if t == "person"}) == 1 for f in facet)


def test_people_take_their_longest_full_name_in_the_document() -> None:
    mentions = [
        Mention("Luiz Inacio Lula da Silva", "PERSON"),
        Mention("Lula", "PERSON"),
        Mention("Lula da Silva", "PERSON"),
    ]
    (lula,) = resolve_entities(mentions)
    assert lula.name == "Luiz Inacio Lula da Silva"
    assert lula.count == 3
    assert lula.aliases == ["Lula", "Lula da Silva"]


def test_seed_crimea_is_a_place_and_us_one_country(seed_article: Article) -> None:
    entities = {e.name: e for e in seed_article.entities}
    assert entities["Crimea"].type == "location"
    assert entities["United States"].type == "location"
    assert entities["United States"].country == "US"
    assert "US" in entities["United States"].aliases
    doc = seed_article.to_document()
    assert {"UA", "RU", "IN", "US"} <= set(doc["country"])


def test_a_span_across_lines_or_an_address_is_no_name() -> None:
    mentions = [
        Mention("SPORT\nPavel Bure", "PERSON"),
        Mention("@nytimes", "ORG"),
        Mention("www.example.com", "ORG"),
    ]
    assert [(e.name, e.type) for e in resolve_entities(mentions)] == [("Pavel Bure", "person")]
