"""What we learnt about each URL last time, so re-runs can ask "has it changed?" cheaply.

Per URL: the validators the server gave (ETag, Last-Modified), the final URL after redirects
and the hash of the body. The next fetch sends If-None-Match / If-Modified-Since; a 304 then
costs no body transfer and no parsing.

One table ``fetch_cache`` in the ledger's database (``etl.ledger.db``: its SQLite file, in WAL
mode, safe for several ETL processes at once; or its PostgreSQL database, shared by machines).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from etl.ledger import now_iso, open_database
from etl.ledger.db import migrate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fetch_cache (
    url           TEXT PRIMARY KEY,
    final_url     TEXT NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    content_hash  TEXT NOT NULL,
    fetched_at    DOUBLE PRECISION NOT NULL
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

    def __init__(self, location: str | Path) -> None:
        # Autocommit: each upsert is its own short transaction, so a crash loses at most one
        # entry and other processes never wait long for the write lock.
        self._db = open_database(location)
        try:
            migrate(self._db, "fetch_cache", (_SCHEMA,), now_iso())
        except BaseException:
            self._db.close()
            raise

    def get(self, url: str) -> CacheEntry | None:
        row = self._db.execute(
            "SELECT url, final_url, etag, last_modified, content_hash, fetched_at"
            " FROM fetch_cache WHERE url = ?",
            (url,),
        ).fetchone()
        return CacheEntry(**dict(row)) if row else None

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
