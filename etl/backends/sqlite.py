"""The embedded index: SQLite FTS5 in one file, the default backend.

Full text: an FTS5 table over the schema's text fields (Porter-stemmed, diacritics folded),
ranked by BM25 with the schema's field weights (title above body). Facets and filters: one
row per (document, facet field, value) in ``article_facets``. The publication date is a
column for ranges and the histogram. WAL mode: safe with several processes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from etl.backends.base import (
    FacetValue,
    Hit,
    IndexResult,
    IndexSetupError,
    SearchRequest,
    SearchResult,
)
from etl.record import Article
from etl.schema import Schema, load_schema
from etl.sqlite_util import connect

INDEX_FORMAT = 2  # PRAGMA user_version of index files this code writes and reads
HISTOGRAM_WIDTH = {"year": 4, "month": 7, "day": 10}
SNIPPET_TOKENS = 24


class SqliteBackend:
    name = "sqlite"

    def __init__(self, path: str | Path, schema: Schema | None = None) -> None:
        self.path = Path(path)
        self.schema = schema or load_schema()
        self._text_fields = [f.name for f in self.schema.text_fields]
        self._conn = connect(self.path)
        self.ensure_ready()

    # --- setup --------------------------------------------------------------------------------
    def ensure_ready(self) -> None:
        columns = ", ".join(self._text_fields)
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        has_tables = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'articles_fts'"
        ).fetchone()
        if has_tables and version != INDEX_FORMAT:
            raise IndexSetupError(
                f"{self.path} was written by another version of article-etl (index format "
                f"{version}, this one reads {INDEX_FORMAT}): move it away and ingest again "
                "with --reprocess"
            )
        self._conn.executescript(
            f"""
            CREATE TABLE IF NOT EXISTS articles (
                id        TEXT PRIMARY KEY,
                published TEXT,
                doc       TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
            -- The FTS row shares the articles row's rowid: replacing a document is a lookup
            -- by rowid, not a scan of the text table.
            CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(
                {columns},
                tokenize = 'porter unicode61 remove_diacritics 2',
                prefix = '2 3'
            );
            CREATE TABLE IF NOT EXISTS article_facets (
                doc_id TEXT NOT NULL,
                field  TEXT NOT NULL,
                value  TEXT NOT NULL,
                PRIMARY KEY (field, value, doc_id)
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS article_facets_doc ON article_facets(doc_id);
            PRAGMA user_version = {INDEX_FORMAT};
            """
        )

    def close(self) -> None:
        self._conn.close()

    # --- writing ------------------------------------------------------------------------------
    def upsert(self, articles: Sequence[Article]) -> list[IndexResult]:
        results: list[IndexResult] = []
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for article in articles:
                doc = article.to_document()
                problem = self._check(doc)
                if problem:
                    results.append(IndexResult(article.id, ok=False, reason=problem))
                    continue
                self._delete_one(article.id)
                self._insert(doc)
                results.append(IndexResult(article.id, ok=True))
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return results

    def _check(self, doc: dict[str, Any]) -> str:
        """What Elasticsearch's ``dynamic: strict`` would refuse: fields the schema lacks."""
        unknown = sorted(set(doc) - set(self.schema.fields))
        if unknown:
            return f"strict mapping: fields not in mappings/fields.json: {', '.join(unknown)}"
        return ""

    def _insert(self, doc: dict[str, Any]) -> None:
        doc_id = doc["id"]
        cursor = self._conn.execute(
            "INSERT INTO articles(id, published, doc) VALUES (?, ?, ?)",
            (doc_id, doc.get("published"), json.dumps(doc, ensure_ascii=False)),
        )
        placeholders = ", ".join("?" * (len(self._text_fields) + 1))
        self._conn.execute(
            f"INSERT INTO articles_fts(rowid, {', '.join(self._text_fields)}) "
            f"VALUES ({placeholders})",
            (cursor.lastrowid, *(doc.get(f) or "" for f in self._text_fields)),
        )
        rows = {
            (doc_id, name, str(value))
            for name, field in self.schema.facets.items()
            if field.type == "keyword"
            for value in _as_list(doc.get(name))
            if value not in (None, "")
        }
        self._conn.executemany("INSERT INTO article_facets VALUES (?, ?, ?)", sorted(rows))

    def delete(self, doc_ids: Sequence[str]) -> None:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for doc_id in doc_ids:
                self._delete_one(doc_id)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def _delete_one(self, doc_id: str) -> None:
        row = self._conn.execute("SELECT rowid FROM articles WHERE id=?", (doc_id,)).fetchone()
        if row is None:
            return
        self._conn.execute("DELETE FROM articles_fts WHERE rowid=?", (row[0],))
        self._conn.execute("DELETE FROM articles WHERE rowid=?", (row[0],))
        self._conn.execute("DELETE FROM article_facets WHERE doc_id=?", (doc_id,))

    # --- reading ------------------------------------------------------------------------------
    def get(self, doc_id: str) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT doc FROM articles WHERE id=?", (doc_id,)).fetchone()
        return json.loads(row["doc"]) if row else None

    def count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def search(self, request: SearchRequest) -> SearchResult:
        self._validate(request)
        match = to_fts_query(request.query)
        where, params = self._filters(request)
        if match:
            weights = ", ".join(str(f.search_weight) for f in self.schema.text_fields)
            text_col = self._text_fields.index("text")
            matched = (
                f"SELECT a.id AS id, -bm25(articles_fts, {weights}) AS score, "
                f"snippet(articles_fts, {text_col}, '<mark>', '</mark>', '…', {SNIPPET_TOKENS}) "
                "AS snippet, a.doc AS doc, a.published AS published "
                "FROM articles_fts JOIN articles a ON a.rowid = articles_fts.rowid "
                f"WHERE articles_fts MATCH ? {where}"
            )
            params = [match, *params]
            order = "score DESC, published DESC, id"
        else:
            matched = (
                "SELECT a.id AS id, 0.0 AS score, '' AS snippet, a.doc AS doc, "
                f"a.published AS published FROM articles a WHERE 1=1 {where}"
            )
            order = "published DESC, id"
        self._conn.execute("DROP TABLE IF EXISTS temp.matched")
        try:
            self._conn.execute(f"CREATE TEMP TABLE matched AS {matched}", params)
        except Exception as exc:  # FTS5 syntax errors are the user's query, not a crash
            raise ValueError(f"invalid search query {request.query!r}: {exc}") from None
        total = int(self._conn.execute("SELECT COUNT(*) FROM temp.matched").fetchone()[0])
        rows = self._conn.execute(
            f"SELECT * FROM temp.matched ORDER BY {order} LIMIT ? OFFSET ?",
            (request.size, request.offset),
        ).fetchall()
        hits = [self._hit(r) for r in rows]
        facets = {name: self._facet(name, request.facet_size) for name in request.facets}
        histogram = self._histogram(request.histogram) if request.histogram else []
        self._conn.execute("DROP TABLE IF EXISTS temp.matched")
        return SearchResult(total=total, hits=hits, facets=facets, histogram=histogram)

    def _validate(self, request: SearchRequest) -> None:
        allowed = self.schema.facets
        for name in [*request.filters, *request.facets]:
            if name not in allowed:
                raise ValueError(f"unknown facet {name!r}; facets: {', '.join(sorted(allowed))}")
        if request.histogram and request.histogram not in HISTOGRAM_WIDTH:
            raise ValueError(f"histogram interval must be one of {', '.join(HISTOGRAM_WIDTH)}")

    def _filters(self, request: SearchRequest) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for name, values in request.filters.items():
            if not values:
                continue
            if self.schema.facets[name].is_date:
                clauses.append(f"substr(a.published, 1, 10) IN ({', '.join('?' * len(values))})")
            else:
                clauses.append(
                    "a.id IN (SELECT doc_id FROM article_facets WHERE field = ? "
                    f"AND value IN ({', '.join('?' * len(values))}))"
                )
                params.append(name)
            params.extend(values)
        if request.published_from:
            clauses.append("substr(a.published, 1, 10) >= ?")
            params.append(request.published_from[:10])
        if request.published_to:
            clauses.append("substr(a.published, 1, 10) <= ?")
            params.append(request.published_to[:10])
        return "".join(f" AND {c}" for c in clauses), params

    def _facet(self, name: str, size: int) -> list[FacetValue]:
        if self.schema.facets[name].is_date:
            return self._histogram("year")[:size]
        rows = self._conn.execute(
            "SELECT value, COUNT(*) AS n FROM article_facets "
            "WHERE field = ? AND doc_id IN (SELECT id FROM temp.matched) "
            "GROUP BY value ORDER BY n DESC, value ASC LIMIT ?",
            (name, size),
        ).fetchall()
        return [FacetValue(r["value"], r["n"]) for r in rows]

    def _histogram(self, interval: str) -> list[FacetValue]:
        width = HISTOGRAM_WIDTH[interval]
        rows = self._conn.execute(
            f"SELECT substr(published, 1, {width}) AS bucket, COUNT(*) AS n FROM temp.matched "
            "WHERE published IS NOT NULL GROUP BY bucket ORDER BY bucket"
        ).fetchall()
        return [FacetValue(r["bucket"], r["n"]) for r in rows]

    def _hit(self, row: Any) -> Hit:
        doc = json.loads(row["doc"])
        snippet = row["snippet"] or _lead(doc.get("text", ""))
        return Hit(
            id=row["id"],
            score=round(float(row["score"]), 4),
            title=doc.get("title", ""),
            url=doc.get("url", ""),
            source=doc.get("source", ""),
            site=doc.get("site", ""),
            published=doc.get("published"),
            language=doc.get("language", ""),
            snippet=snippet,
        )

    def stats(self) -> dict[str, Any]:
        by_field = self._conn.execute(
            "SELECT field, COUNT(DISTINCT value) AS n FROM article_facets GROUP BY field"
        ).fetchall()
        size = self.path.stat().st_size if self.path.exists() else 0
        return {
            "backend": self.name,
            "path": str(self.path),
            "documents": self.count(),
            "file_bytes": size,
            "distinct_values": {r["field"]: r["n"] for r in by_field},
        }


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _lead(text: str, words: int = SNIPPET_TOKENS) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


_TOKEN = re.compile(r'"[^"]*"|\S+')


def to_fts_query(query: str) -> str:
    """User query syntax -> FTS5: words are ANDed, "quoted phrases" and ``prefix*`` work, OR
    works; everything else is quoted so that punctuation never becomes FTS5 syntax."""
    parts: list[str] = []
    # English possessives, as Elasticsearch's english analyzer drops them: Putin's -> Putin.
    for token in _TOKEN.findall(re.sub(r"(\w)['’]s\b", r"\1", query.strip())):
        if token == "AND":
            continue  # words are ANDed anyway
        if token == "OR" and parts and parts[-1] != "OR":
            parts.append("OR")
            continue
        if token.startswith('"'):
            words = re.findall(r"\w+", token)
            if words:
                parts.append('"' + " ".join(words) + '"')
            continue
        prefix = token.endswith("*")
        words = re.findall(r"\w+", token)
        if not words:
            continue
        if prefix and len(words) == 1:
            parts.append(f'"{words[0]}"*')
        else:
            parts.append('"' + " ".join(words) + '"')
    while parts and parts[-1] == "OR":
        parts.pop()
    return " ".join(parts)
