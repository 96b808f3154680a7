"""The one field definition (mappings/fields.json) and the record agree."""

from __future__ import annotations

from etl.record import Article
from etl.schema import load_schema
from tests.records import full_article


def test_every_field_of_the_record_is_defined_and_every_definition_is_produced() -> None:
    schema = load_schema()
    doc = full_article().to_document()
    assert set(doc) == set(schema.fields)
    for nested in ("entities", "date_mentions"):
        assert set(doc[nested][0]) == set(schema.fields[nested].properties)


def test_facets_are_keyword_or_date_and_entity_types_have_facets() -> None:
    schema = load_schema()
    assert {f.type for f in schema.facets.values()} <= {"keyword", "date"}
    assert set(schema.entity_fields) == {
        "person",
        "organization",
        "location",
        "group",
        "event",
        "product",
        "work",
        "law",
    }
    from etl.entities import LABEL_TYPES

    assert set(LABEL_TYPES.values()) <= set(schema.entity_fields)


def test_title_weighs_more_than_body() -> None:
    weights = {f.name: f.search_weight for f in load_schema().text_fields}
    assert weights["title"] > weights["description"] > 0 and weights["title"] > weights["text"] > 0


def test_record_round_trips_through_its_document() -> None:
    article = full_article()
    again = Article.from_document(article.to_document())
    assert again.to_document() == article.to_document()
