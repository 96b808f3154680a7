"""The search query syntax, read the same way by both backends: words ANDed, "phrases",
prefix*, OR, and NOT word / -word excluding (the embedded index for real; Elasticsearch as the
query body it is sent, since the test double does not search)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from etl.backends.base import ParsedQuery, QueryTerm, SearchRequest, parse_query
from etl.backends.elasticsearch.query import build_search_body
from etl.backends.sqlite.backend import SqliteBackend
from etl.backends.sqlite.search import fts_queries
from etl.record import Article
from tests.records import full_article


def article(doc_id: str, *, title: str, text: str) -> Article:
    return replace(
        full_article(), id=doc_id, title=title, description="", text=text, content_hash=doc_id
    )


def _t(*words: str, prefix: bool = False) -> QueryTerm:
    return QueryTerm(words, prefix)


@pytest.mark.parametrize(
    ("query", "parsed"),
    [
        ("port strike", ParsedQuery([[_t("port"), _t("strike")]])),
        ("port AND strike", ParsedQuery([[_t("port"), _t("strike")]])),
        ('"dock workers" glaci*', ParsedQuery([[_t("dock", "workers"), _t("glaci", prefix=True)]])),
        ("Putin's OR Modi", ParsedQuery([[_t("Putin")], [_t("Modi")]])),
        ("port NOT strike", ParsedQuery([[_t("port")]], [_t("strike")])),
        ("port -strike", ParsedQuery([[_t("port")]], [_t("strike")])),
        (
            '-"port strike" -glaci*',
            ParsedQuery([], [_t("port", "strike"), _t("glaci", prefix=True)]),
        ),
        ("NOT strike", ParsedQuery([], [_t("strike")])),
        ("port not strike", ParsedQuery([[_t("port"), _t("not"), _t("strike")]])),
        ("well-known", ParsedQuery([[_t("well", "known")]])),
        ("AND ( ) - : NOT OR", ParsedQuery()),
    ],
)
def test_parse_query(query: str, parsed: ParsedQuery) -> None:
    assert parse_query(query) == parsed


def test_fts5_translation_of_exclusions() -> None:
    assert fts_queries("port -strike") == ('"port"', '"strike"')
    assert fts_queries('a OR b NOT "c d" -e*') == ('"a" OR "b"', '"c d" OR "e"*')
    assert fts_queries("-strike") == ("", '"strike"')


def _bool(query: str) -> dict[str, Any]:
    body = build_search_body(SearchRequest(query=query))
    result: dict[str, Any] = body["query"]["bool"]
    return result


def _sqs(clause: dict[str, Any]) -> str:
    return str(clause["simple_query_string"]["query"])


def test_elasticsearch_excludes_not_and_minus_terms() -> None:
    for query in ("port NOT strike", "port -strike"):
        clauses = _bool(query)
        assert [_sqs(c) for c in clauses["must"]] == ["port"]
        assert [_sqs(c) for c in clauses["must_not"]] == ["strike"]
    clauses = _bool('NOT "port strike" -glaci*')
    assert clauses["must"] == [{"match_all": {}}]
    assert [_sqs(c) for c in clauses["must_not"]] == ['"port strike"', "glaci*"]
    assert "must_not" not in _bool("port strike")


def test_elasticsearch_reads_or_as_an_operator_not_a_word() -> None:
    # simple_query_string's OR is "|"; the word OR would be searched for (and required).
    assert _sqs(_bool("port OR strike")["must"][0]) == "port | strike"
    assert _sqs(_bool("dock workers OR strike")["must"][0]) == "(dock workers) | strike"
    assert _sqs(_bool("Okafor's (budget)")["must"][0]) == "Okafor budget"


@pytest.fixture
def backend(tmp_path: Path) -> SqliteBackend:
    index = SqliteBackend(tmp_path / "index.db")
    index.upsert(
        [
            article(
                "a", title="Port strike in Rotterdam", text="Dockworkers walk out at the port."
            ),
            article("b", title="Glacier retreat", text="The Aletsch glacier lost ice this year."),
            article("c", title="Port budget", text="The port authority set its budget."),
        ]
    )
    return index


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("port", {"a", "c"}),
        ("port NOT strike", {"c"}),
        ("port -strike", {"c"}),
        ('port -"port strike"', {"c"}),
        ("port -strik*", {"c"}),
        ("NOT port", {"b"}),
        ("-port -glacier", set()),
        ("glacier OR budget -authority", {"b"}),
    ],
)
def test_embedded_index_excludes(backend: SqliteBackend, query: str, ids: set[str]) -> None:
    result = backend.search(SearchRequest(query=query))
    assert {h.id for h in result.hits} == ids
    assert result.total == len(ids)
