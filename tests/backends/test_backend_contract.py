"""One search contract, run over every backend: the embedded index always, Elasticsearch when
ES_URL points at a live cluster (skipped with the reason otherwise). The same documents, the
same requests, the same answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from etl.backends.base import IndexBackend, SearchRequest
from etl.record import Article, DateMention, Entity, make_id, text_fingerprint
from tests.es_live import es_url


def article(
    title: str,
    text: str,
    *,
    published: str,
    site: str,
    language: str = "en",
    people: tuple[str, ...] = (),
    places: tuple[str, ...] = (),
    author: tuple[str, ...] = (),
) -> Article:
    content_hash = text_fingerprint(title + text)
    return Article(
        id=make_id("", content_hash),
        source=f"/articles/{title}.html",
        source_kind="file",
        raw_hash=content_hash,
        text=text,
        content_hash=content_hash,
        title=title,
        site=site,
        host=site.lower().replace(" ", "") + ".example",
        language=language,
        published=published,
        published_source="meta",
        published_confidence="high",
        author=list(author),
        entities=[Entity(p, "person", 2) for p in people]
        + [Entity(p, "location", 1) for p in places],
        date_mentions=[
            DateMention("2014", "2014", "year", "2014-01-01", "2014-12-31", False, True)
        ],
    )


CORPUS = [
    article(
        "Harbour strike ends",
        "Dock workers in Rotterdam voted to end the strike after talks "
        "with the port authority. The harbour reopened on Monday.",
        published="2024-11-07",
        site="Harbor Ledger",
        people=("Maria Okafor",),
        places=("Rotterdam",),
        author=("Daniel Ferreira",),
    ),
    article(
        "Glacier melt sets a record",
        "Scientists measured record melt on the Aletsch glacier. "
        "The strike of the heatwave in July was the main cause.",
        published="2025-03-14",
        site="Alpine Science",
        people=("Lena Brunner",),
        places=("Switzerland",),
    ),
    article(
        "Port authority budget",
        "The port authority of Rotterdam published its budget. "
        "Maria Okafor presented the figures to the council.",
        published="2025-06-04",
        site="Harbor Ledger",
        people=("Maria Okafor",),
        places=("Rotterdam",),
    ),
    article(
        "Stadtbahn nach Porz",
        "Der Stadtrat hat die Verlängerung der Linie beschlossen.",
        published="2026-01-19",
        site="Rheinblick",
        language="de",
        places=("Köln",),
    ),
]


def _sqlite(tmp_path: Path) -> IndexBackend:
    from etl.backends.sqlite.backend import SqliteBackend

    return SqliteBackend(tmp_path / "contract.db")


def _elasticsearch(tmp_path: Path) -> IndexBackend:
    url = es_url()
    from etl.backends.elasticsearch.admin import setup
    from etl.backends.elasticsearch.backend import ElasticsearchBackend
    from etl.settings import Settings

    settings = Settings.from_env().with_overrides(
        index=url, es_alias=f"contract-{uuid.uuid4().hex[:8]}"
    )
    setup(settings)
    return ElasticsearchBackend.from_settings(settings)


@pytest.fixture(params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.live_es)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IndexBackend]:
    make = {"sqlite": _sqlite, "elasticsearch": _elasticsearch}[request.param]
    index = make(tmp_path)
    index.ensure_ready()
    results = index.upsert(CORPUS)
    assert all(r.ok for r in results), results
    yield index
    index.close()


def ids(result: object) -> list[str]:
    return [h.id for h in result.hits]  # type: ignore[attr-defined]


def test_counts_and_get(backend: IndexBackend) -> None:
    assert backend.count() == len(CORPUS)
    doc = backend.get(CORPUS[0].id)
    assert doc is not None
    assert doc["title"] == "Harbour strike ends"
    assert doc["entities"][0]["name"] == "Maria Okafor"
    assert backend.get("no-such-id") is None


def test_upsert_replaces_by_id(backend: IndexBackend) -> None:
    changed = replace(
        article(
            "Harbour strike ends",
            "Completely new words about a zeppelin.",
            published="2024-11-07",
            site="Harbor Ledger",
        ),
        id=CORPUS[0].id,
    )
    backend.upsert([changed])
    assert backend.count() == len(CORPUS)
    assert ids(backend.search(SearchRequest(query="zeppelin"))) == [CORPUS[0].id]
    assert CORPUS[0].id not in ids(backend.search(SearchRequest(query="dock")))


def test_title_match_ranks_above_body_match(backend: IndexBackend) -> None:
    result = backend.search(SearchRequest(query="strike"))
    assert result.total == 2
    assert ids(result)[0] == CORPUS[0].id  # "strike" in the title beats "strike" in the body


def test_words_are_anded_and_stemmed(backend: IndexBackend) -> None:
    assert ids(backend.search(SearchRequest(query="port budget"))) == [CORPUS[2].id]
    assert set(ids(backend.search(SearchRequest(query="measure")))) == {CORPUS[1].id}


def test_phrase_and_prefix(backend: IndexBackend) -> None:
    assert ids(backend.search(SearchRequest(query='"port authority of Rotterdam"'))) == [
        CORPUS[2].id
    ]
    assert set(ids(backend.search(SearchRequest(query="glaci*")))) == {CORPUS[1].id}


def test_highlighted_snippet(backend: IndexBackend) -> None:
    hit = backend.search(SearchRequest(query="Aletsch")).hits[0]
    assert "<mark>Aletsch</mark>" in hit.snippet
    assert hit.title == "Glacier melt sets a record"
    assert hit.published and hit.published.startswith("2025-03-14")


def test_facets_count_documents(backend: IndexBackend) -> None:
    result = backend.search(SearchRequest(facets=["person", "site", "language"]))
    assert result.total == 4
    person = {v.value: v.count for v in result.facets["person"]}
    assert person == {"Maria Okafor": 2, "Lena Brunner": 1}
    assert (result.facets["site"][0].value, result.facets["site"][0].count) == ("Harbor Ledger", 2)
    assert {v.value: v.count for v in result.facets["language"]} == {"en": 3, "de": 1}


def test_filters_and_query_together(backend: IndexBackend) -> None:
    result = backend.search(
        SearchRequest(query="Rotterdam", filters={"person": ["Maria Okafor"]}, facets=["location"])
    )
    assert set(ids(result)) == {CORPUS[0].id, CORPUS[2].id}
    assert {v.value: v.count for v in result.facets["location"]} == {"Rotterdam": 2}
    result = backend.search(SearchRequest(filters={"site": ["Harbor Ledger"], "language": ["de"]}))
    assert result.total == 0


def test_date_range_and_histogram(backend: IndexBackend) -> None:
    result = backend.search(
        SearchRequest(published_from="2025-01-01", published_to="2025-12-31", histogram="year")
    )
    assert set(ids(result)) == {CORPUS[1].id, CORPUS[2].id}
    assert [(b.value, b.count) for b in result.histogram] == [("2025", 2)]
    months = backend.search(SearchRequest(histogram="month")).histogram
    assert [b.value for b in months] == ["2024-11", "2025-03", "2025-06", "2026-01"]


def test_unknown_facet_is_refused_with_the_allowed_names(backend: IndexBackend) -> None:
    with pytest.raises(ValueError, match="person"):
        backend.search(SearchRequest(facets=["colour"]))


def test_punctuation_in_queries_is_not_syntax(backend: IndexBackend) -> None:
    result = backend.search(SearchRequest(query="Okafor's (budget) -"))
    assert ids(result) == [CORPUS[2].id]


def test_delete(backend: IndexBackend) -> None:
    backend.delete([CORPUS[1].id])
    assert backend.count() == len(CORPUS) - 1
    assert backend.get(CORPUS[1].id) is None
    assert backend.search(SearchRequest(query="glacier")).total == 0


def test_paging(backend: IndexBackend) -> None:
    first = backend.search(SearchRequest(size=2))
    second = backend.search(SearchRequest(size=2, offset=2))
    assert first.total == second.total == 4
    assert not set(ids(first)) & set(ids(second))
    # No query: newest first.
    assert first.hits[0].published and first.hits[0].published.startswith("2026-01-19")
