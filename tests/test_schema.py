"""The one field definition (mappings/fields.json) and the record agree."""

from __future__ import annotations

from etl.dates import DateMention
from etl.record import Article, Entity
from etl.schema import load_schema


def full_article() -> Article:
    return Article(
        id="x",
        source="/a.html",
        source_kind="file",
        raw_hash="r",
        text="Some text.",
        content_hash="c",
        title="T",
        description="D",
        url="https://s.example/a",
        canonical_url="https://s.example/a",
        site="S",
        host="s.example",
        author=["A"],
        category=["C"],
        tag=["G"],
        language="en",
        published="2025-01-02",
        published_source="meta",
        published_confidence="high",
        file_modified="2025-01-03T00:00:00+00:00",
        entities=[Entity("Ada Lovelace", "person", 2, ["Lovelace"])],
        date_mentions=[
            DateMention("2014", "2014", "year", "2014-01-01", "2014-12-31", False, True)
        ],
        warning=["no_author"],
        model="m-1",
        processed_at="2025-01-04T00:00:00+00:00",
    )


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
    from etl.enrich import LABEL_TYPES

    assert set(LABEL_TYPES.values()) <= set(schema.entity_fields)


def test_title_weighs_more_than_body() -> None:
    weights = {f.name: f.search_weight for f in load_schema().text_fields}
    assert weights["title"] > weights["description"] > 0 and weights["title"] > weights["text"] > 0


def test_record_round_trips_through_its_document() -> None:
    article = full_article()
    again = Article.from_document(article.to_document())
    assert again.to_document() == article.to_document()
