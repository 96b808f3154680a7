"""The Elasticsearch index template: generated from mappings/fields.json, committed, complete."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from etl.backends.elasticsearch import admin as es_admin
from etl.backends.elasticsearch.cli import es_app
from etl.schema import load_schema
from etl.settings import Settings
from tests.records import full_article


@pytest.fixture(scope="module")
def mappings() -> dict[str, Any]:
    template = es_admin.build_index_template(Settings())
    result: dict[str, Any] = template["template"]["mappings"]
    return result


def test_committed_template_equals_generated() -> None:
    committed = json.loads(es_admin.template_path().read_text(encoding="utf-8"))
    assert committed == es_admin.build_index_template(Settings()), (
        "mappings/index-template.json is stale: run article-etl es template --write"
    )
    assert CliRunner().invoke(es_app, ["template", "--check"]).exit_code == 0


def test_every_document_key_is_mapped_including_nested(mappings: dict[str, Any]) -> None:
    doc = full_article().to_document()
    props = mappings["properties"]
    assert set(doc) <= set(props), set(doc) - set(props)
    # lists of objects (entities, date mentions): nested, with every key of every item mapped
    nested = {k: v for k, v in doc.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
    assert {"entities", "date_mentions"} <= set(nested)
    assert {k: props[k]["type"] for k in nested} == dict.fromkeys(nested, "nested")
    unmapped = {
        k: {key for item in items for key in item} - set(props[k]["properties"])
        for k, items in nested.items()
    }
    assert unmapped == {k: set() for k in nested}
    # And the other way round: nothing is mapped that the record never writes.
    assert set(props) == set(doc)


def test_dynamic_strict_refuses_unknown_fields(mappings: dict[str, Any]) -> None:
    assert mappings["dynamic"] == "strict"


def test_every_facet_is_keyword_or_date(mappings: dict[str, Any]) -> None:
    facets = load_schema().facets
    assert {"person", "organization", "location", "language", "site", "published"} <= set(facets)
    for name in facets:
        assert mappings["properties"][name]["type"] in {"keyword", "date"}, name


def test_text_fields_are_english_with_exact_subfield(mappings: dict[str, Any]) -> None:
    for name in ("title", "description", "text"):
        spec = mappings["properties"][name]
        assert spec["type"] == "text" and spec["analyzer"] == "english"
        assert spec["fields"]["exact"] == {"type": "text", "analyzer": "standard"}
    sortable = mappings["properties"]["title"]["fields"]["keyword"]
    assert sortable["type"] == "keyword" and sortable["normalizer"] == "sortable"


def test_types_follow_fields_json(mappings: dict[str, Any]) -> None:
    props = mappings["properties"]
    assert props["published"]["type"] == "date"
    assert props["processed_at"]["type"] == "date"
    assert props["word_count"]["type"] == "integer"
    assert props["reading_time_minutes"]["type"] == "float"
    assert props["title_derived"]["type"] == "boolean"
    assert props["entities"]["properties"]["count"]["type"] == "integer"
    assert props["date_mentions"]["properties"]["start"]["type"] == "date"


def test_template_targets_versioned_indices_of_the_alias_prefix() -> None:
    template = es_admin.build_index_template(Settings(es_alias="news"))
    assert template["index_patterns"] == ["news-v*"]
    assert template["priority"] > 100  # above Elasticsearch's built-in templates
    assert "sortable" in template["template"]["settings"]["analysis"]["normalizer"]
    assert es_admin.index_name(Settings(es_alias="news"), 3) == "news-v3"
    assert es_admin.index_version(Settings(es_alias="news"), "news-v12") == 12
    assert es_admin.index_version(Settings(es_alias="news"), "news-write") is None
