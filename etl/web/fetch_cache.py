"""What we learnt about each URL last time, so re-runs can ask "has it changed?" cheaply.

Per URL: the validators the server gave (ETag, Last-Modified), the final URL after redirects
and the hash of the body. The next fetch sends If-None-Match / If-Modified-Since; a 304 then
costs no body transfer and no parsing.

One SQLite table ``fetch_cache`` in the file at ``cache_path``. WAL mode and a busy timeout
make it safe for several ETL processes at once (readers never block, writers queue briefly).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fetch_cache (
    url           TEXT PRIMARY KEY,
    final_url     TEXT NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    content_hash  TEXT NOT NULL,
    fetched_at    REAL NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """What the last fetch of one URL left: validators, final URL and body hash."""

    url: str
    final_url: str
    etag: str | None
    last_modified: str | None
    content_hash: str
    fetched_at: float

    @property
    def has_validators(self) -> bool:
        return bool(self.etag or self.last_modified)


class FetchCache:
    """The ``fetch_cache`` table. Use from one thread (the fetcher's dispatcher does)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: each upsert is its own short transaction, so a crash loses at most one
        # entry and other processes never wait long for the write lock.
        self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable enough for a cache under WAL
        self._db.execute(_SCHEMA)

    def get(self, url: str) -> CacheEntry | None:
        row = self._db.execute(
            "SELECT url, final_url, etag, last_modified, content_hash, fetched_at"
            " FROM fetch_cache WHERE url = ?",
            (url,),
        ).fetchone()
        return CacheEntry(*row) if row else None

    def put(
        self,
        url: str,
        *,
        final_url: str,
        etag: str | None,
        last_modified: str | None,
        content_hash: str,
    ) -> None:
        self._db.execute(
            "INSERT INTO fetch_cache (url, final_url, etag, last_modified, content_hash,"
            " fetched_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(url) DO UPDATE SET final_url = excluded.final_url,"
            " etag = excluded.etag, last_modified = excluded.last_modified,"
            " content_hash = excluded.content_hash, fetched_at = excluded.fetched_at",
            (url, final_url, etag, last_modified, content_hash, time.time()),
        )

    def touch(self, url: str) -> None:
        """A 304 confirmed the entry: only the time it was last checked changes."""
        self._db.execute("UPDATE fetch_cache SET fetched_at = ? WHERE url = ?", (time.time(), url))

    def forget(self, url: str) -> None:
        self._db.execute("DELETE FROM fetch_cache WHERE url = ?", (url,))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> FetchCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
