"""The index file's tables: what a file must be to be opened as an index, creating the tables,
writing documents (with their facet value ids and tombstones) and reading them back."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from etl.backends.base import IndexResult, IndexSetupError, NotAnIndexError
from etl.record import Article
from etl.schema import Field, Schema

INDEX_FORMAT = 3  # PRAGMA user_version of index files this code writes and reads
# Date facet values are kept to the day ("2025-03-14"); a filter value more precise than that
# is checked against the stored document.
DATE_VALUE_CHARS = 10
# The publication date: histograms, published_from/published_to and the newest-first order.
PUBLISHED = "published"
TOMBSTONES_KEPT = 10_000  # older tombstones are pruned; a reader that far behind reloads
TOMBSTONES_PRUNE_EVERY = 1_000  # tombstones between two prunings
# Tables an index file may hold: the index's own, the ledger's and the fetch cache's.
OWN_TABLE_PREFIXES = ("articles", "article_", "ledger_", "fetch_cache", "sqlite_")
# Columns of ``articles`` besides the text fields (a text field may not be called so).
FIXED_COLUMNS = ("n", "id", "published", "doc")
# Indexes earlier versions made and this one neither reads nor maintains: dropped at the first
# write. ``articles(published DESC, id)`` got a random leaf per document (documents do not
# arrive in date order): a page written to the file per document once it had more leaves than
# documents came between two checkpoints. The newest-first order now comes from the postings.
RETIRED_INDEXES = ("articles_newest",)


def check_index_file(path: str | Path) -> None:
    """Raise ``NotAnIndexError`` when ``path`` exists but is not an article-etl index: not an
    SQLite file (a text file, an HTML page...), or another program's SQLite database (whose
    tables we must not add ours to). A missing or empty file is fine: it becomes an index.

    The file is only ever opened through SQLite: this process may hold other connections to
    it (the ledger), and closing a plain file handle on it would drop their POSIX locks, after
    which another process can checkpoint and delete the write-ahead log under them."""
    path = Path(path)
    if path.is_dir():
        raise NotAnIndexError(f"{path} is a folder, not an article-etl index file")
    try:
        if path.stat().st_size == 0:
            return
    except FileNotFoundError:
        return
    except OSError as exc:
        raise IndexSetupError(f"cannot read the index {path}: {exc.strerror or exc}") from None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:  # unreadable (permissions, a dangling link...)
        raise IndexSetupError(f"cannot read the index {path}: {exc}") from None
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise NotAnIndexError(
                f"{path} is not an article-etl index (not an SQLite database)"
            ) from None
        raise NotAnIndexError(f"{path} is not an article-etl index ({exc})") from None
    foreign = sorted(n for n in names if not n.startswith(OWN_TABLE_PREFIXES))
    if foreign and "articles_fts" not in names:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise NotAnIndexError(
            f"{path} is an SQLite database of something else (tables {shown}), not an "
            "article-etl index"
        )


def _q(name: str) -> str:
    """An SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def text_columns(schema: Schema) -> list[str]:
    """The schema's text fields: the columns of ``articles`` and ``articles_fts``."""
    names = [f.name for f in schema.text_fields]
    clash = sorted(set(names) & set(FIXED_COLUMNS))
    if clash:
        raise ValueError(f"text fields may not be named {', '.join(clash)}")
    return names


class DocumentStore:
    """The documents of one index file: its tables, and writing and reading documents."""

    def __init__(self, conn: sqlite3.Connection, path: Path, schema: Schema) -> None:
        self._conn = conn
        self.path = path
        self.schema = schema
        self.text_fields = text_columns(schema)
        self._facets = schema.facets
        # The write side's copy of the value dictionary: field -> value -> id, as far as
        # ``article_values.n`` = ``_values_read`` (``_read_values``).
        self._value_ids: dict[str, dict[str, int]] = {}
        self._values_read = 0
        self._retired = False  # RETIRED_INDEXES dropped (or known absent)

    def ensure_ready(self) -> None:
        # One statement, so one snapshot: read apart, another process creating the index
        # between the two reads would show its tables without their format.
        version, has_tables = self._conn.execute(
            "SELECT (SELECT user_version FROM pragma_user_version), "
            "EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'articles_fts')"
        ).fetchone()
        if has_tables and version != INDEX_FORMAT:
            raise IndexSetupError(
                f"{self.path} was written by another version of article-etl (index format "
                f"{version}, this one reads {INDEX_FORMAT}): move it away and ingest again "
                "with --reprocess"
            )
        if has_tables:
            columns = [r[1] for r in self._conn.execute("PRAGMA table_info(articles_fts)")]
            if columns != self.text_fields:
                raise IndexSetupError(
                    f"{self.path} indexes the text fields {', '.join(columns)}, "
                    f"mappings/fields.json has {', '.join(self.text_fields)}: move it away "
                    "and ingest again with --reprocess"
                )
            return
        text_columns = "".join(f"{_q(f)} TEXT, " for f in self.text_fields)
        fts_columns = ", ".join(_q(f) for f in self.text_fields)
        self._conn.executescript(
            f"""
            BEGIN IMMEDIATE;
            CREATE TABLE IF NOT EXISTS articles (
                n         INTEGER PRIMARY KEY AUTOINCREMENT,
                id        TEXT NOT NULL UNIQUE,
                published TEXT,
                {text_columns}
                doc       BLOB NOT NULL
            );
            CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(
                {fts_columns},
                content = 'articles',
                content_rowid = 'n',
                tokenize = 'porter unicode61 remove_diacritics 2'
            );
            -- Merge 16 segments of a level at a time, not 4: half the levels, so the merge work
            -- per document grows far less with the index (measured: flat from 0 to 40,000
            -- documents written 8 at a time, where 4 costs 30% more per document at 40,000).
            INSERT INTO articles_fts(articles_fts, rank) VALUES ('automerge', 16);
            -- ... a little at every write (automerge), not all at once: with crisismerge at its
            -- default (16, as automerge) a level reaching 16 segments was merged whole in one
            -- commit, cascading (the upsert at 65,536 documents took 1.7 s, and which tenth of
            -- a build such merges fell in swung its rate by 15%).
            INSERT INTO articles_fts(articles_fts, rank) VALUES ('crisismerge', 64);
            CREATE TABLE IF NOT EXISTS article_facet_ids (
                n   INTEGER PRIMARY KEY,
                ids BLOB NOT NULL
            );
            -- No index on (field, value): writers look values up in memory (_read_values).
            CREATE TABLE IF NOT EXISTS article_values (
                n     INTEGER PRIMARY KEY,
                field TEXT NOT NULL,
                value TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS article_tombstones (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                n   INTEGER NOT NULL
            );
            PRAGMA user_version = {INDEX_FORMAT};
            COMMIT;
            """
        )

    def upsert(self, articles: Sequence[Article]) -> list[IndexResult]:
        results: list[IndexResult] = []
        with self._write():
            self._read_values()
            for article in articles:
                doc = article.to_document()
                problem = self._check(doc)
                if problem:
                    results.append(IndexResult(article.id, ok=False, reason=problem))
                    continue
                self._delete_one(article.id)
                self._insert(doc)
                results.append(IndexResult(article.id, ok=True))
        return results

    def delete(self, doc_ids: Sequence[str]) -> None:
        with self._write():
            for doc_id in doc_ids:
                self._delete_one(doc_id)

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            if not self._retired:
                for name in RETIRED_INDEXES:
                    self._conn.execute(f"DROP INDEX IF EXISTS {_q(name)}")
                self._retired = True
            yield
            self._prune_tombstones()
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            self._value_ids.clear()  # ids created in the rolled-back transaction are gone
            self._values_read = 0
            self._retired = False
            raise

    def _check(self, doc: dict[str, Any]) -> str:
        """What Elasticsearch's ``dynamic: strict`` would refuse: fields the schema lacks."""
        unknown = sorted(set(doc) - set(self.schema.fields))
        if unknown:
            return f"strict mapping: fields not in mappings/fields.json: {', '.join(unknown)}"
        return ""

    def _insert(self, doc: dict[str, Any]) -> None:
        texts = [doc.get(f) for f in self.text_fields]
        stored = dict(doc)
        for name in self.text_fields:
            if name in stored:
                stored[name] = None  # the column holds it
        values = sorted(
            {
                self._value_id(name, value)
                for name, spec in self._facets.items()
                for value in _facet_values(doc.get(name), spec)
            }
        )
        text_columns = "".join(f", {_q(f)}" for f in self.text_fields)
        placeholders = ", ?" * len(self.text_fields)
        cursor = self._conn.execute(
            f"INSERT INTO articles(id, published{text_columns}, doc) "
            f"VALUES (?, ?{placeholders}, ?)",
            (
                doc["id"],
                _date_value(doc.get(PUBLISHED)),
                *texts,
                zlib.compress(json.dumps(stored, ensure_ascii=False).encode(), 6),
            ),
        )
        self._conn.execute(
            "INSERT INTO article_facet_ids(n, ids) VALUES (?, ?)",
            (cursor.lastrowid, np.array(values, dtype="<i4").tobytes()),
        )
        fts_columns = ", ".join(_q(f) for f in self.text_fields)
        self._conn.execute(
            f"INSERT INTO articles_fts(rowid, {fts_columns}) VALUES (?{placeholders})",
            (cursor.lastrowid, *texts),
        )

    def _read_values(self) -> None:
        """Bring the in-memory value dictionary up to date (inside the write transaction):
        the entries any process added since the last read, all of them the first time.

        ``article_values`` is append-only, so this is a range of its rowids, and it needs no
        index on (field, value): with one, each new value (a new story's ``story_cluster``,
        nearly one a document) went into a random leaf of that index, a page written to the
        file per document once it had more leaves than documents came between two
        checkpoints (indexing slowed as the index grew)."""
        for n, name, value in self._conn.execute(
            "SELECT n, field, value FROM article_values WHERE n > ? ORDER BY n",
            (self._values_read,),
        ):
            self._value_ids.setdefault(name, {})[value] = int(n)
            self._values_read = int(n)

    def _value_id(self, name: str, value: str) -> int:
        # No statement in a write may open a statement savepoint (``INSERT ... RETURNING``
        # into a table with a UNIQUE constraint did): FTS5 writes out the terms it holds at
        # every savepoint, so each document became a full-text segment of its own, not each
        # upsert: eight times the segments to merge.
        values = self._value_ids.setdefault(name, {})
        known = values.get(value)
        if known is None:
            cursor = self._conn.execute(
                "INSERT INTO article_values(field, value) VALUES (?, ?)", (name, value)
            )
            known = values[value] = int(cursor.lastrowid or 0)
            self._values_read = max(self._values_read, known)
        return known

    def _delete_one(self, doc_id: str) -> None:
        columns = ", ".join(_q(f) for f in self.text_fields)
        row = self._conn.execute(
            f"SELECT n, {columns} FROM articles WHERE id = ?", (doc_id,)
        ).fetchone()
        if row is None:
            return
        placeholders = ", ?" * len(self.text_fields)
        # External content: FTS5 removes a row's terms given the values it indexed.
        self._conn.execute(
            f"INSERT INTO articles_fts(articles_fts, rowid, {columns}) "
            f"VALUES ('delete', ?{placeholders})",
            tuple(row),
        )
        self._conn.execute("DELETE FROM articles WHERE n = ?", (row[0],))
        self._conn.execute("DELETE FROM article_facet_ids WHERE n = ?", (row[0],))
        self._conn.execute("INSERT INTO article_tombstones(n) VALUES (?)", (row[0],))

    def _prune_tombstones(self) -> None:
        last = self._conn.execute("SELECT max(seq) FROM article_tombstones").fetchone()[0]
        if last is not None and last % TOMBSTONES_PRUNE_EVERY == 0:
            self._conn.execute(
                "DELETE FROM article_tombstones WHERE seq <= ?", (last - TOMBSTONES_KEPT,)
            )

    def get(self, doc_id: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            f"SELECT {self.doc_columns()} FROM articles WHERE id = ?", (doc_id,)
        ).fetchone()
        return self.document(row) if row else None

    def doc_columns(self) -> str:
        return ", ".join(["doc", *(_q(f) for f in self.text_fields)])

    def document(self, row: Any) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(zlib.decompress(row[0]))
        for i, name in enumerate(self.text_fields, start=1):
            if name in doc:
                doc[name] = row[i]
        return doc

    def count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def iter_documents(self) -> Iterator[dict[str, Any]]:
        """Every document, in id order (exports are stable and diffable)."""
        cursor = self._conn.execute(f"SELECT {self.doc_columns()} FROM articles ORDER BY id")
        try:
            while rows := cursor.fetchmany(500):
                for row in rows:
                    yield self.document(row)
        finally:
            with contextlib.suppress(sqlite3.ProgrammingError):  # the backend closed first
                cursor.close()


def _date_value(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _facet_values(value: Any, spec: Field) -> list[str]:
    """A field's facet values as strings; an empty keyword is no value (as in Elasticsearch).
    Dates to the day: the finest a facet, histogram or range asks for."""
    out = []
    for item in value if isinstance(value, list) else [value]:
        if item is None or item == "":
            continue
        text = ("true" if item else "false") if isinstance(item, bool) else str(item)
        out.append(text[:DATE_VALUE_CHARS] if spec.is_date else text)
    return out
