"""ElasticsearchBackend against the loopback double (tests/es_double.py, not Elasticsearch):
bulk actions, the request bodies it sends, how it parses answers. The live leg at the end runs
only with ES_URL set."""

from __future__ import annotations

from dataclasses import replace

import pytest

from etl.backends.base import FacetValue, IndexSetupError, SearchRequest
from etl.backends.elasticsearch import admin as es_admin
from etl.backends.elasticsearch.backend import ElasticsearchBackend, bulk_actions
from etl.backends.elasticsearch.query import build_search_body, parse_search_response
from etl.record import Article
from etl.settings import Settings
from tests.es_double import EsDouble
from tests.records import full_article


def article(doc_id: str, **changes: object) -> Article:
    return replace(full_article(), id=doc_id, **changes)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- bulk


def test_bulk_actions_use_article_id_and_write_alias() -> None:
    actions = list(bulk_actions([article("x1"), article("x2")], "articles-write"))
    assert [(a["_op_type"], a["_id"], a["_index"]) for a in actions] == [
        ("index", "x1", "articles-write"),
        ("index", "x2", "articles-write"),
    ]
    assert actions[0]["_source"] == article("x1").to_document()


def test_upsert_indexes_through_write_alias_and_refreshes_once(
    es: EsDouble, es_backend: ElasticsearchBackend
) -> None:
    results = es_backend.upsert([article(f"d{i}") for i in range(5)])
    assert [(r.doc_id, r.ok) for r in results] == [(f"d{i}", True) for i in range(5)]
    bulk = es.calls(path_part="_bulk")
    assert len(bulk) == 1 and bulk[0].query.get("require_alias") == "true"
    headers = bulk[0].ndjson()[::2]
    assert {h["index"]["_index"] for h in headers} == {"articles-write"}
    assert [h["index"]["_id"] for h in headers] == [f"d{i}" for i in range(5)]
    refreshes = es.calls(path_part="_refresh")
    assert [r.path for r in refreshes] == ["/articles-write/_refresh"]
    # Stored in the concrete index behind the alias, readable through the read alias.
    assert set(es.docs("articles-v1")) == {f"d{i}" for i in range(5)}
    assert es_backend.count() == 5
    assert es_backend.get("d3") == article("d3").to_document()
    assert es_backend.get("missing") is None


def test_upsert_again_replaces_instead_of_duplicating(
    es: EsDouble, es_backend: ElasticsearchBackend
) -> None:
    es_backend.upsert([article("d1", title="First")])
    es_backend.upsert([article("d1", title="Second")])
    assert es_backend.count() == 1
    assert (es_backend.get("d1") or {})["title"] == "Second"


def test_chunks_follow_settings(es: EsDouble, es_settings: Settings) -> None:
    settings = replace(es_settings, es_chunk_docs=2)
    es_admin.setup(settings)
    es_backend = ElasticsearchBackend.from_settings(settings)
    es_backend.upsert([article(f"c{i}") for i in range(5)])
    assert [len(r.ndjson()) // 2 for r in es.calls(path_part="_bulk")] == [2, 2, 1]


def test_delete_removes_documents(es: EsDouble, es_backend: ElasticsearchBackend) -> None:
    es_backend.upsert([article("d1"), article("d2")])
    es_backend.delete(["d1", "never-indexed"])
    assert es_backend.get("d1") is None and es_backend.count() == 1


def test_ensure_ready_without_setup_says_what_to_run(es_settings: Settings) -> None:
    es_backend = ElasticsearchBackend.from_settings(es_settings)
    with pytest.raises(IndexSetupError, match="article-etl es setup"):
        es_backend.ensure_ready()


def test_upsert_without_alias_never_creates_an_index(es: EsDouble, es_settings: Settings) -> None:
    es_backend = ElasticsearchBackend.from_settings(es_settings)
    with pytest.raises(IndexSetupError, match="es setup"):
        es_backend.upsert([article("d1")])
    assert es.indices == {}


# --------------------------------------------------------------------------- search bodies


def test_query_uses_weighted_fields_exact_subfields_and_and_operator() -> None:
    body = build_search_body(SearchRequest(query='"harbour strike" dock*'))
    sqs = body["query"]["bool"]["must"][0]["simple_query_string"]
    assert sqs["query"] == '"harbour strike" dock*'
    assert sqs["default_operator"] == "and"
    assert sqs["fields"] == [
        "title^4",
        "description^2",
        "text^1",
        "title.exact^2",
        "description.exact^1",
        "text.exact^0.5",
    ]
    assert "PHRASE" in sqs["flags"] and "PREFIX" in sqs["flags"]
    assert body["highlight"]["pre_tags"] == ["<mark>"]
    assert body["highlight"]["post_tags"] == ["</mark>"]
    assert set(body["highlight"]["fields"]) == {"title", "text"}
    assert body["track_total_hits"] is True


def test_filters_are_terms_in_bool_filter_and_dates_cover_whole_days() -> None:
    body = build_search_body(
        SearchRequest(
            filters={"person": ["Maria Okafor", "Ann"], "language": ["en"]},
            published_from="2025-03",
            published_to="2025-03-14",
        )
    )
    filters = body["query"]["bool"]["filter"]
    assert {"terms": {"person": ["Maria Okafor", "Ann"]}} in filters
    assert {"terms": {"language": ["en"]}} in filters
    assert {"range": {"published": {"gte": "2025-03||/M", "format": "yyyy-MM"}}} in filters
    assert {"range": {"published": {"lte": "2025-03-14||/d", "format": "yyyy-MM-dd"}}} in filters
    assert body["query"]["bool"]["must"] == [{"match_all": {}}]
    assert "highlight" not in body  # nothing to highlight without words


def test_facets_and_histogram_aggregations() -> None:
    body = build_search_body(
        SearchRequest(facets=["person", "site"], facet_size=7, histogram="month", size=3, offset=6)
    )
    assert body["aggs"]["facet_person"]["terms"]["field"] == "person"
    assert body["aggs"]["facet_person"]["terms"]["size"] == 7
    assert body["aggs"]["facet_site"]["terms"]["order"] == [{"_count": "desc"}, {"_key": "asc"}]
    hist = body["aggs"]["histogram"]["date_histogram"]
    assert hist == {
        "field": "published",
        "calendar_interval": "month",
        "format": "yyyy-MM",
        "min_doc_count": 1,
    }
    assert (body["size"], body["from"]) == (3, 6)


def test_unknown_facet_or_filter_field_is_a_value_error_naming_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown facet field 'text'.*person"):
        build_search_body(SearchRequest(facets=["text"]))
    with pytest.raises(ValueError, match=r"unknown filter field 'nope'.*language"):
        build_search_body(SearchRequest(filters={"nope": ["x"]}))
    with pytest.raises(ValueError, match="histogram"):
        build_search_body(SearchRequest(histogram="week"))


CANNED = {
    "took": 2,
    "hits": {
        "total": {"value": 42, "relation": "eq"},
        "hits": [
            {
                "_id": "a",
                "_score": 3.5,
                "_source": {
                    "id": "a",
                    "title": "Harbour strike ends",
                    "url": "u",
                    "source": "s",
                    "site": "News",
                    "published": "2025-03-14",
                    "language": "en",
                    "text": "long text",
                },
                "highlight": {
                    "text": ["the <mark>strike</mark> ended"],
                    "title": ["Harbour <mark>strike</mark> ends"],
                },
            },
            {
                "_id": "b",
                "_score": 1.0,
                "_source": {"id": "b", "title": "Dock news", "text": "word " * 100},
                "highlight": {"title": ["<mark>Dock</mark> news"]},
            },
            {"_id": "c", "_score": None, "_source": {"id": "c", "text": "short text"}},
        ],
    },
    "aggregations": {
        "facet_person": {
            "buckets": [
                {"key": "Zed", "doc_count": 2},
                {"key": "Ann", "doc_count": 2},
                {"key": "Bob", "doc_count": 5},
            ]
        },
        "histogram": {
            "buckets": [
                {"key_as_string": "2025-02", "key": 1, "doc_count": 3},
                {"key_as_string": "2025-03", "key": 2, "doc_count": 39},
            ]
        },
    },
}


def test_search_sends_body_to_read_alias_and_parses_same_shape(
    es: EsDouble, es_backend: ElasticsearchBackend
) -> None:
    es.canned_search = CANNED
    request = SearchRequest(query="strike", facets=["person"], histogram="month")
    result = es_backend.search(request)
    (sent,) = es.calls(path_part="_search")
    assert sent.path == "/articles/_search"
    assert sent.json() == build_search_body(request)
    assert result.total == 42
    assert [h.id for h in result.hits] == ["a", "b", "c"]
    assert result.hits[0].snippet == "the <mark>strike</mark> ended"  # text fragment first
    assert result.hits[1].snippet == "<mark>Dock</mark> news"  # else the title
    assert result.hits[2].snippet == "short text"  # else the start of the text
    assert result.hits[2].score == 0.0 and result.hits[0].published == "2025-03-14"
    assert result.facets["person"] == [
        FacetValue("Bob", 5),
        FacetValue("Ann", 2),
        FacetValue("Zed", 2),
    ]
    assert result.histogram == [FacetValue("2025-02", 3), FacetValue("2025-03", 39)]


def test_long_text_snippet_is_cut_at_a_word() -> None:
    result = parse_search_response(CANNED, SearchRequest())
    snippet = result.hits[1].snippet
    assert snippet.startswith("<mark>")
    plain = (
        parse_search_response(
            {
                "hits": {
                    "total": {"value": 1},
                    "hits": [{"_id": "x", "_source": {"text": "word " * 100}}],
                }
            },
            SearchRequest(),
        )
        .hits[0]
        .snippet
    )
    assert plain.endswith("…") and len(plain) <= 201 and "wor…" not in plain
