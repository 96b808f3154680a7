"""The embedded index: SQLite FTS5 in one file, the default backend.

Full text: an FTS5 table over the schema's text fields (Porter-stemmed, diacritics folded),
ranked by BM25 with the schema's field weights (title above body). Facets and filters: one
row per (document, facet field, value) in ``article_facets``. The publication date is a
column for ranges and the histogram. WAL mode: safe with several processes.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from etl.backends.base import (
    FacetValue,
    Hit,
    IndexResult,
    IndexSetupError,
    NotAnIndexError,
    QueryTerm,
    SearchRequest,
    SearchResult,
    parse_query,
)
from etl.record import Article
from etl.schema import Schema, load_schema
from etl.sqlite_util import connect

INDEX_FORMAT = 2  # PRAGMA user_version of index files this code writes and reads
HISTOGRAM_WIDTH = {"year": 4, "month": 7, "day": 10}
SNIPPET_TOKENS = 24
MAX_PAGE = 10_000  # hits per page and offset + size, as Elasticsearch's max_result_window
SQLITE_HEADER = b"SQLite format 3\x00"
# Tables an index file may hold: the index's own, the ledger's and the fetch cache's.
OWN_TABLE_PREFIXES = ("articles", "article_facets", "ledger_", "fetch_cache", "sqlite_")


def check_index_file(path: str | Path) -> None:
    """Raise ``NotAnIndexError`` when ``path`` exists but is not an article-etl index: not an
    SQLite file (a text file, an HTML page...), or another program's SQLite database (whose
    tables we must not add ours to). A missing or empty file is fine: it becomes an index."""
    path = Path(path)
    if path.is_dir():
        raise NotAnIndexError(f"{path} is a folder, not an article-etl index file")
    try:
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise IndexSetupError(f"cannot read the index {path}: {exc.strerror or exc}") from None
    if not header:
        return
    if header != SQLITE_HEADER:
        raise NotAnIndexError(f"{path} is not an article-etl index (not an SQLite database)")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise NotAnIndexError(f"{path} is not an article-etl index ({exc})") from None
    foreign = sorted(n for n in names if not n.startswith(OWN_TABLE_PREFIXES))
    if foreign and "articles_fts" not in names:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise NotAnIndexError(
            f"{path} is an SQLite database of something else (tables {shown}), not an "
            "article-etl index"
        )


class SqliteBackend:
    name = "sqlite"

    def __init__(self, path: str | Path, schema: Schema | None = None) -> None:
        self.path = Path(path)
        self.schema = schema or load_schema()
        self._text_fields = [f.name for f in self.schema.text_fields]
        check_index_file(self.path)
        try:
            self._conn = connect(self.path)
        except sqlite3.DatabaseError as exc:  # e.g. a corrupt file
            raise NotAnIndexError(f"{self.path} is not a readable index ({exc})") from None
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
    def bulk_writes(self) -> AbstractContextManager[None]:
        return nullcontext()  # each upsert commits, and a commit is searchable at once

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

    def iter_documents(self) -> Iterator[dict[str, Any]]:
        """Every document, in id order (exports are stable and diffable)."""
        cursor = self._conn.execute("SELECT doc FROM articles ORDER BY id")
        try:
            while rows := cursor.fetchmany(500):
                for row in rows:
                    yield json.loads(row["doc"])
        finally:
            with contextlib.suppress(sqlite3.ProgrammingError):  # the backend closed first
                cursor.close()

    def search(self, request: SearchRequest) -> SearchResult:
        self._validate(request)
        match, exclude = fts_queries(request.query)
        where, params = self._filters(request)
        if exclude and match:
            match = f"({match}) NOT ({exclude})"
        elif exclude:  # only exclusions: every document but those
            where += (
                " AND a.rowid NOT IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)"
            )
            params.append(exclude)
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
        for name, value in (("size", request.size), ("offset", request.offset)):
            if not 0 <= value <= MAX_PAGE:
                raise ValueError(f"{name} must be between 0 and {MAX_PAGE:,}, got {value}")
        if request.offset + request.size > MAX_PAGE:
            raise ValueError(f"offset + size must be at most {MAX_PAGE:,}")
        if not 0 <= request.facet_size <= MAX_PAGE:
            raise ValueError(f"facet size must be between 0 and {MAX_PAGE:,}")

    def _filters(self, request: SearchRequest) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for name, values in request.filters.items():
            if not values:
                continue
            if self.schema.facets[name].is_date:
                # A date facet value ("2025", "2025-03", "2025-03-14") stands for that period.
                periods = [f"substr(a.published, 1, {len(v)}) = ?" for v in values]
                clauses.append(f"({' OR '.join(periods)})")
            else:
                clauses.append(
                    "a.id IN (SELECT doc_id FROM article_facets WHERE field = ? "
                    f"AND value IN ({', '.join('?' * len(values))}))"
                )
                params.append(name)
            params.extend(values)
        # Bounds compare at their own precision: "to 2025" includes all of 2025.
        if request.published_from:
            start = request.published_from[:10]
            clauses.append(f"substr(a.published, 1, {len(start)}) >= ?")
            params.append(start)
        if request.published_to:
            end = request.published_to[:10]
            clauses.append(f"substr(a.published, 1, {len(end)}) <= ?")
            params.append(end)
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
        snippet = row["snippet"] or _lead(doc.get("text") or "")
        return Hit(
            id=row["id"],
            score=round(float(row["score"]), 4),
            title=doc.get("title") or "",
            url=doc.get("url") or "",
            source=doc.get("source") or "",
            site=doc.get("site") or "",
            published=doc.get("published"),
            language=doc.get("language") or "",
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


def _fts_term(term: QueryTerm) -> str:
    quoted = '"' + " ".join(term.words) + '"'
    return quoted + "*" if term.prefix else quoted


def fts_queries(query: str) -> tuple[str, str]:
    """User query syntax (``etl.backends.base.parse_query``) -> two FTS5 expressions: what a
    document must match, and what it must not (empty: nothing). Every word is quoted, so
    punctuation never becomes FTS5 syntax."""
    parsed = parse_query(query)
    match = " OR ".join(" ".join(_fts_term(t) for t in group) for group in parsed.groups)
    exclude = " OR ".join(_fts_term(t) for t in parsed.excluded)
    return match, exclude


def to_fts_query(query: str) -> str:
    """The whole query as one FTS5 expression (exclusions need terms to match first)."""
    match, exclude = fts_queries(query)
    return f"({match}) NOT ({exclude})" if match and exclude else match
