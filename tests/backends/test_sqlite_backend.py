"""What only the embedded backend does (the shared behaviour is in test_backend_contract.py)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from etl.backends.base import IndexSetupError, SearchRequest, SearchResult
from etl.backends.sqlite.backend import SqliteBackend
from etl.backends.sqlite.search import to_fts_query
from etl.backends.sqlite.storage import DocumentStore
from etl.cli.app import app
from etl.record import Article, Entity
from etl.schema import Field, load_schema
from tests.paths import ROOT
from tests.records import full_article


def test_an_index_of_another_format_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIRTUAL TABLE articles_fts USING fts5(id UNINDEXED, title, text)")
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    with pytest.raises(IndexSetupError, match="--reprocess"):
        SqliteBackend(path)
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["search", "x", "--index", str(path)])
    assert result.exit_code == 1
    assert "another version" in result.output


def test_fts_query_translation() -> None:
    assert to_fts_query("port strike") == '"port" "strike"'
    assert to_fts_query('"dock workers" glaci*') == '"dock workers" "glaci"*'
    assert to_fts_query("Putin's OR Modi") == '"Putin" OR "Modi"'
    assert to_fts_query("AND ( ) - :") == ""


# --- index format 3: text stored once, search from postings ------------------------------------


def news(
    doc_id: str,
    text: str,
    *,
    title: str = "",
    published: str | None = "2025-03-14T09:30:00+00:00",
    people: Sequence[str] = (),
    site: str = "News Example",
) -> Article:
    return replace(
        full_article(),
        id=doc_id,
        title=title or f"Article {doc_id}",
        description="",
        text=text,
        content_hash=doc_id,
        published=published,
        site=site,
        entities=[Entity(p, "person", 1) for p in people],
    )


def facet(result: SearchResult, name: str) -> list[tuple[str, int]]:
    return [(v.value, v.count) for v in result.facets[name]]


def test_format_2_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE articles (id TEXT PRIMARY KEY, published TEXT, doc TEXT)")
    conn.execute("CREATE VIRTUAL TABLE articles_fts USING fts5(title, description, text)")
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    with pytest.raises(IndexSetupError, match="index format 2, this one reads 3"):
        SqliteBackend(path)


def test_the_text_is_stored_once_and_documents_come_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    index = SqliteBackend(path)
    sentence = "Quartermaster Odalys inspected every crane of the northern terminal."
    article = news("a", f"{sentence} " + "The harbour was quiet. " * 50)
    index.upsert([article])
    assert index.get("a") == article.to_document()
    assert list(index.get("a") or {}) == list(article.to_document())  # same key order
    assert list(index.iter_documents()) == [article.to_document()]
    hit = index.search(SearchRequest(query="Odalys")).hits[0]
    assert "<mark>Odalys</mark>" in hit.snippet
    index.close()
    with sqlite3.connect(path) as conn:  # fold the write-ahead log into the file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert path.read_bytes().count(sentence.encode()) == 1


def test_totals_and_facets_stay_exact_through_replacements_and_deletions(tmp_path: Path) -> None:
    index = SqliteBackend(tmp_path / "index.db")
    index.upsert([news(f"d{i}", "harbour cranes", people=["Ana Ribeiro"]) for i in range(6)])
    request = SearchRequest(query="harbour", facets=["person"])
    assert index.search(request).total == 6
    assert facet(index.search(request), "person") == [("Ana Ribeiro", 6)]
    # replace two (one no longer matches, one changes its person), delete one
    index.upsert(
        [
            news("d0", "a meadow of flowers", people=["Ana Ribeiro"]),
            news("d1", "harbour cranes", people=["Rui Costa"]),
        ]
    )
    index.delete(["d2", "no-such-id"])
    result = index.search(request)
    assert result.total == 4 == len(result.hits)
    assert {h.id for h in result.hits} == {"d1", "d3", "d4", "d5"}
    assert facet(result, "person") == [("Ana Ribeiro", 3), ("Rui Costa", 1)]
    everything = index.search(SearchRequest(facets=["person"], histogram="year"))
    assert everything.total == index.count() == 5
    assert facet(everything, "person") == [("Ana Ribeiro", 4), ("Rui Costa", 1)]
    assert [(b.value, b.count) for b in everything.histogram] == [("2025", 5)]


def test_facet_values_rank_by_count_then_name_and_empty_values_are_not_values(
    tmp_path: Path,
) -> None:
    index = SqliteBackend(tmp_path / "index.db")
    index.upsert(
        [
            news("a", "one", people=["Zoe Adams", "Ben Cole"]),
            news("b", "two", people=["Ben Cole"], site=""),
            news("c", "three", people=["Zoe Adams", "Al Dunn"]),
            news("d", "four", published=None),
        ]
    )
    result = index.search(SearchRequest(facets=["person", "site", "published"], facet_size=2))
    assert facet(result, "person") == [("Ben Cole", 2), ("Zoe Adams", 2)]
    assert facet(result, "site") == [("News Example", 3)]  # "" is no site
    assert facet(result, "published") == [("2025", 3)]  # no date: no year
    assert index.search(SearchRequest(filters={"site": [""]})).total == 0
    assert index.search(SearchRequest(filters={"published": ["2025"]})).total == 3


def test_dates_compare_at_the_precision_given(tmp_path: Path) -> None:
    index = SqliteBackend(tmp_path / "index.db")
    days = ["2024-12-31", "2025-01-01T08:00:00+00:00", "2025-06-30", "2026-01-01"]
    index.upsert([news(f"d{i}", "tram", published=day) for i, day in enumerate(days)])

    def ids(**bounds: str) -> set[str]:
        return {h.id for h in index.search(SearchRequest(query="tram", **bounds)).hits}

    assert ids(published_from="2025", published_to="2025") == {"d1", "d2"}
    assert ids(published_from="2025-01-01", published_to="2025-06") == {"d1", "d2"}
    assert ids(published_to="2024-12") == {"d0"}
    result = index.search(SearchRequest(histogram="month", filters={"published": ["2025-06"]}))
    assert [(b.value, b.count) for b in result.histogram] == [("2025-06", 1)]
    for value, expected in [("2025-01-01T08", {"d1"}), ("2025-01-01T09", set()), ("2024", {"d0"})]:
        hits = index.search(SearchRequest(filters={"published": [value]})).hits
        assert {h.id for h in hits} == expected, value


def test_filtered_ranking_is_the_unfiltered_ranking_without_the_filtered_out(
    tmp_path: Path,
) -> None:
    index = SqliteBackend(tmp_path / "index.db")
    docs = [
        news(
            f"d{i:02d}",
            "harbour " * (1 + i % 4) + "filler words here " * (i % 3),
            people=["Ana Ribeiro"] if i % 2 else ["Rui Costa"],
            published=f"2025-01-{1 + i % 5:02d}",
        )
        for i in range(24)
    ]
    index.upsert(docs)
    everything = index.search(SearchRequest(query="harbour", size=24))
    ana = {d.id for d in docs if d.entity_names("person") == ["Ana Ribeiro"]}
    expected = [h.id for h in everything.hits if h.id in ana]
    filtered = index.search(
        SearchRequest(query="harbour", filters={"person": ["Ana Ribeiro"]}, size=12)
    )
    assert [h.id for h in filtered.hits] == expected
    pages = [
        index.search(SearchRequest(query="harbour", size=5, offset=offset)) for offset in (0, 5)
    ]
    assert [h.id for p in pages for h in p.hits] == [h.id for h in everything.hits][:10]


def test_equal_scores_rank_newest_first_then_by_id(tmp_path: Path) -> None:
    index = SqliteBackend(tmp_path / "index.db")
    days = {"c": "2025-01-02", "a": "2025-01-02", "b": "2025-03-01", "d": None}
    index.upsert(
        [news(i, "the same words", title="Same", published=day) for i, day in days.items()]
        + [news("e", "the same words the same words", title="Same")]
    )
    for offset in (0, 1, 2):
        page = index.search(SearchRequest(query="same words", size=3, offset=offset))
        assert [h.id for h in page.hits] == ["e", "b", "a", "c", "d"][offset : offset + 3]


def test_a_reader_sees_what_another_connection_commits(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    writer, reader = SqliteBackend(path), SqliteBackend(path)
    writer.upsert([news("a", "tram line", people=["Ana Ribeiro"])])
    request = SearchRequest(query="tram", facets=["person"])
    assert reader.search(request).total == 1
    writer.upsert(
        [news("b", "tram depot", people=["Rui Costa"]), news("a", "bus", people=["Ana Ribeiro"])]
    )
    result = reader.search(request)
    assert [h.id for h in result.hits] == ["b"]
    assert facet(result, "person") == [("Rui Costa", 1)]
    assert facet(reader.search(SearchRequest(facets=["person"])), "person") == [
        ("Ana Ribeiro", 1),
        ("Rui Costa", 1),
    ]


def test_a_reader_sees_a_deletion_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    index = SqliteBackend(path)
    index.upsert([news("a", "tram line", people=["Ana Ribeiro"]), news("b", "tram depot")])
    assert index.search(SearchRequest(query="tram")).total == 2
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from etl.backends.sqlite.backend import SqliteBackend; "
            "SqliteBackend(sys.argv[1]).delete(['a'])",
            str(path),
        ],
        check=True,
        cwd=ROOT,
    )
    result = index.search(SearchRequest(query="tram", facets=["person"]))
    assert (result.total, [h.id for h in result.hits], result.facets["person"]) == (1, ["b"], [])
    assert index.search(SearchRequest()).total == index.count() == 1


def test_writers_on_one_file_share_its_facet_values(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    first, second = SqliteBackend(path), SqliteBackend(path)
    first.upsert([news("a", "tram", people=["Ana Ribeiro"])])
    second.upsert([news("b", "tram", people=["Ana Ribeiro", "Rui Costa"])])
    first.upsert([news("c", "tram", people=["Rui Costa"])])
    result = SqliteBackend(path).search(SearchRequest(facets=["person"]))
    assert facet(result, "person") == [("Ana Ribeiro", 2), ("Rui Costa", 2)]
    rows = first.connection.execute("SELECT value FROM article_values WHERE field = 'person'")
    assert sorted(r[0] for r in rows) == ["Ana Ribeiro", "Rui Costa"]


def test_a_failed_write_leaves_no_facet_value_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = SqliteBackend(tmp_path / "index.db")
    index.upsert([news("a", "tram", people=["Ana Ribeiro"])])
    insert = DocumentStore._insert

    def failing(store: DocumentStore, doc: dict[str, Any]) -> None:
        insert(store, doc)
        if doc["id"] == "boom":
            raise OSError("disk full")

    monkeypatch.setattr(DocumentStore, "_insert", failing)
    with pytest.raises(OSError):
        index.upsert([news("b", "tram", people=["Rui Costa"]), news("boom", "tram")])
    monkeypatch.undo()
    index.upsert([news("c", "tram", people=["Rui Costa", "Ana Ribeiro"])])
    result = index.search(SearchRequest(facets=["person"]))
    assert (result.total, facet(result, "person")) == (2, [("Ana Ribeiro", 2), ("Rui Costa", 1)])


def test_a_reader_far_behind_reloads_after_old_tombstones_are_pruned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("etl.backends.sqlite.storage.TOMBSTONES_KEPT", 1)
    monkeypatch.setattr("etl.backends.sqlite.storage.TOMBSTONES_PRUNE_EVERY", 2)
    path = tmp_path / "index.db"
    writer, reader = SqliteBackend(path), SqliteBackend(path)
    writer.upsert([news(f"d{i}", "tram", people=["Ana Ribeiro"]) for i in range(3)])
    assert reader.search(SearchRequest(query="tram")).total == 3
    for person in ("Rui Costa", "Eva Lima", "Ana Ribeiro", "Rui Costa"):
        writer.upsert([news(f"d{i}", "tram", people=[person]) for i in range(2)])
    result = reader.search(SearchRequest(query="tram", facets=["person"]))
    assert result.total == 3
    assert facet(result, "person") == [("Rui Costa", 2), ("Ana Ribeiro", 1)]


@pytest.mark.parametrize("lookup_max", [0, 10_000])
def test_without_a_query_hits_come_newest_first_then_by_id_and_undated_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lookup_max: int
) -> None:
    monkeypatch.setattr("etl.backends.sqlite.search.UNDATED_LOOKUP_MAX", lookup_max)
    index = SqliteBackend(tmp_path / "index.db")
    published = {
        "d0": "2025-02-01T08:00:00+00:00",
        "d1": "2024-01-05",
        "d2": None,
        "d3": "2025-02-01T17:30:00+00:00",  # the same day as d0, later
        "d4": "2026-07-01",  # not Ana's
        "d5": "2023-01-01",
        "d6": None,
        "b7": "2025-02-01T08:00:00+00:00",  # the same time as d0: by id
        "a8": None,
        "d9": "2025-02",  # a month: after that month's days, as the dates compare
    }
    index.upsert(
        [
            news(doc_id, "words", published=day, people=["Ana Ribeiro"] if doc_id != "d4" else [])
            for doc_id, day in published.items()
        ]
    )
    anas = ["d3", "b7", "d0", "d9", "d1", "d5", "a8", "d2", "d6"]
    for filters, expected in (({"person": ["Ana Ribeiro"]}, anas), ({}, ["d4", *anas])):
        request = SearchRequest(filters=filters, size=2)
        pages = [index.search(replace(request, offset=offset)) for offset in range(0, 10, 2)]
        assert [h.id for p in pages for h in p.hits] == expected
        assert {p.total for p in pages} == {len(expected)}
        assert [h.id for h in index.search(replace(request, size=10)).hits] == expected


def test_an_index_made_by_an_earlier_version_loses_its_date_order_index_at_the_first_write(
    tmp_path: Path,
) -> None:
    path = tmp_path / "index.db"
    SqliteBackend(path).close()
    conn = sqlite3.connect(path)
    conn.execute("CREATE INDEX articles_newest ON articles(published DESC, id)")
    conn.commit()
    index = SqliteBackend(path)
    index.upsert([news("a", "words", published="2025-01-01"), news("b", "words")])
    names = [r[0] for r in index.connection.execute("SELECT name FROM sqlite_master")]
    assert "articles_newest" not in names
    assert [h.id for h in index.search(SearchRequest()).hits] == ["b", "a"]


def test_an_index_made_with_other_text_fields_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    SqliteBackend(path).close()
    schema = load_schema()
    more = {**schema.fields, "subtitle": Field("subtitle", "text", search_weight=2.0)}
    with pytest.raises(IndexSetupError, match=r"subtitle.*--reprocess"):
        SqliteBackend(path, replace(schema, fields=more))


def test_runs_that_create_the_same_new_index_at_once_all_open_it(tmp_path: Path) -> None:
    """The mapped tasks of a first DAG run open a new index file together: none may take the
    one being created for an index of another version."""
    from concurrent.futures import ThreadPoolExecutor

    def open_it(path: Path) -> int:
        backend = SqliteBackend(path)
        try:
            return backend.count()
        finally:
            backend.close()

    for attempt in range(30):
        path = tmp_path / f"new{attempt}.db"
        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(open_it, [path] * 4)) == [0, 0, 0, 0]
