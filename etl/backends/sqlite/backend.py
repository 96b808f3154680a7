"""``SqliteBackend``: the embedded index behind the ``IndexBackend`` interface (the layout and
why it is SQLite FTS5: the package's docstring)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from etl.backends.base import (
    IndexResult,
    NotAnIndexError,
    SearchRequest,
    SearchResult,
    collapse_by_story,
)
from etl.backends.sqlite.budget import within_time_budget
from etl.backends.sqlite.facets import Postings
from etl.backends.sqlite.search import FtsSearch, fts_queries
from etl.backends.sqlite.storage import DocumentStore, check_index_file, text_columns
from etl.record import Article
from etl.schema import Schema, load_schema
from etl.sqlite_util import connect

# Pages the write-ahead log may hold before a commit copies them into the file (SQLite's
# default: 1,000). A checkpoint writes every page changed since the last one and syncs the file.
# New ids go to random leaves of the id index, which at 100,000 documents outgrows what 1,000
# pages of log cover, so checkpoints cost more as the index grows: with 10,000 pages (a log of
# up to 40 MiB) the heavy upserts of the last tenth of bench_scale.py's 100,000 documents cost
# 0.12 s of CPU more than the first tenth's, against 0.35 s with 1,000. (A setting of this
# connection: others to the file, such as the ledger's, keep their own.)
WAL_CHECKPOINT_PAGES = 10_000


class SqliteBackend:
    """``IndexBackend`` on one SQLite FTS5 file: the embedded index, the default backend."""

    name = "sqlite"
    search_timeout = 10.0  # seconds (ARTICLE_ETL_SEARCH_TIMEOUT; etl.backends.sqlite.budget)

    def __init__(self, path: str | Path, schema: Schema | None = None) -> None:
        self.path = Path(path)
        self.schema = schema or load_schema()
        text_columns(self.schema)  # a schema this index cannot hold fails before the file opens
        self._postings: Postings | None = None
        check_index_file(self.path)
        try:
            self._conn = connect(self.path)
        except sqlite3.DatabaseError as exc:  # e.g. a corrupt file
            raise NotAnIndexError(f"{self.path} is not a readable index ({exc})") from None
        self._conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: FTS5 merges, id lookups
        self._conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        self._store = DocumentStore(self._conn, self.path, self.schema)
        self._search = FtsSearch(self._conn, self._store, self.schema)
        self.ensure_ready()

    @property
    def connection(self) -> sqlite3.Connection:
        """The index file's connection (the search time budget watches its statements)."""
        return self._conn

    def ensure_ready(self) -> None:
        self._store.ensure_ready()

    def close(self) -> None:
        self._conn.close()

    # --- writing ------------------------------------------------------------------------------
    def bulk_writes(self) -> AbstractContextManager[None]:
        return nullcontext()  # each upsert commits, and a commit is searchable at once

    def upsert(self, articles: Sequence[Article]) -> list[IndexResult]:
        return self._store.upsert(articles)

    def delete(self, doc_ids: Sequence[str]) -> None:
        self._store.delete(doc_ids)

    # --- reading ------------------------------------------------------------------------------
    def get(self, doc_id: str) -> dict[str, Any] | None:
        return self._store.get(doc_id)

    def count(self) -> int:
        return self._store.count()

    def iter_documents(self) -> Iterator[dict[str, Any]]:
        """Every document, in id order (exports are stable and diffable)."""
        return self._store.iter_documents()

    def forget_postings(self) -> None:
        """Drop the postings in memory: the next search reads them afresh from the file."""
        self._postings = None

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[Postings]:
        """A read transaction (one consistent state of the file) with postings of that state.

        The state is the highest document, tombstone and value numbers ever given out (read
        inside the transaction, so exact; ``PRAGMA data_version`` read before it could miss a
        commit landing in between). Unchanged: nothing to do; else the postings catch up."""
        began = False
        with contextlib.suppress(sqlite3.OperationalError):  # already in a transaction
            self._conn.execute("BEGIN")
            began = True
        try:
            row = self._conn.execute(
                "SELECT (SELECT seq FROM sqlite_sequence WHERE name = 'articles'), "
                "(SELECT seq FROM sqlite_sequence WHERE name = 'article_tombstones'), "
                "(SELECT max(n) FROM article_values)"
            ).fetchone()
            state = (int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))
            postings = self._postings
            if postings is None or (
                postings.state != state and not postings.refresh(self._conn, state)
            ):
                postings = self._postings = Postings(self.schema.facets)
                postings.refresh(self._conn, state)
            yield postings
        finally:
            if began:
                self._conn.execute("COMMIT")

    @within_time_budget
    def search(self, request: SearchRequest) -> SearchResult:
        if request.collapse:  # one hit per story: searches of its own (etl.backends.base)
            return collapse_by_story(self, request)
        self._search.validate(request)
        match, exclude = fts_queries(request.query)
        with self._snapshot() as postings:
            return self._search.run(request, postings, match, exclude)

    def stats(self) -> dict[str, Any]:
        with self._snapshot() as postings:
            distinct = {
                name: int(np.count_nonzero(p.counts(postings.alive)))
                for name, p in postings.fields.items()
            }
        size = self.path.stat().st_size if self.path.exists() else 0
        return {
            "backend": self.name,
            "path": str(self.path),
            "documents": self.count(),
            "file_bytes": size,
            "distinct_values": {k: v for k, v in distinct.items() if v},
        }
