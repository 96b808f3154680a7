"""Story clusters: articles whose texts are nearly the same share a ``story_cluster`` id.

The same story syndicated on several sites with their own boilerplate, a headline changed, a
paragraph corrected: the texts differ a little, their content hashes entirely. Each indexed
article gets a MinHash signature of its word shingles (``datasketch.MinHash``); a
locality-sensitive hash (``datasketch.MinHashLSH``: ``b`` bands of ``r`` rows) finds the articles
already seen whose signatures are likely similar, and the article joins the story of the most
similar one when their estimated Jaccard similarity is at least ``JOIN_THRESHOLD``; otherwise it
starts a story of its own, whose id is its own document id. Ids are stable: an article never
changes the story of the articles before it, so a story's id is the id of its first document.

The LSH buckets and the signatures are kept in the ledger's database (tables
``ledger_story_*``, ``etl.ledger.db``: its SQLite file or its PostgreSQL database):
``MinHashLSH`` keeps its buckets in memory (or Redis/Cassandra), so its banding (``b``, ``r``
from its optimiser, the same band hashing) is applied here to a table indexed by (band, key).
A new article costs one statement of ``b`` indexed look-ups and a
comparison with the few candidates they return, never a pass over every document; a re-run,
another process or an Airflow task continues the same clusters.

Exact duplicates (the same normalised text) never get here: the pipeline records them as
``duplicate`` before indexing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from etl.backends.base import IndexBackend, IndexResult, SearchRequest, SearchResult
from etl.ledger import now_iso, open_database
from etl.ledger.db import Database, migrate
from etl.record import Article

LOG = logging.getLogger(__name__)

SHINGLE_WORDS = 4  # word 4-grams: a changed word touches 4 shingles, a shared phrase counts
NUM_PERM = 128  # signature length: Jaccard estimated within about +-0.045 at 0.5
SEED = 15
SCHEME = "affine32"  # datasketch >= 2: uint32 hash values, 512 bytes a signature
LSH_THRESHOLD = 0.3  # candidates: b and r chosen by MinHashLSH for this similarity
JOIN_THRESHOLD = 0.45  # estimated Jaccard with the closest earlier article to join its story
MIN_WORDS_FOR_WORD_SHINGLES = 3 * SHINGLE_WORDS  # fewer words (or no spaces): characters
CHAR_SHINGLE = 5

_WORD = re.compile(r"\w+")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_story_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_story_docs (
    doc_id     TEXT PRIMARY KEY,
    cluster_id TEXT NOT NULL,
    signature  {blob} NOT NULL,            -- NUM_PERM uint32 hash values, little-endian
    added_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_story_docs_cluster ON ledger_story_docs(cluster_id);
-- MinHashLSH's buckets: per band, the documents whose signature's band hashes to key. (A
-- document's rows are found again from its signature: no second index to write.)
CREATE TABLE IF NOT EXISTS ledger_story_bands (
    band   INTEGER NOT NULL,
    key    BIGINT NOT NULL,
    doc_id TEXT NOT NULL,
    PRIMARY KEY (band, key, doc_id)
) {without_rowid};
"""


# --- signatures -----------------------------------------------------------------------------


def shingles(text: str) -> set[bytes]:
    """The text's word 4-grams, case and punctuation folded ("The  Port's" = "the port s"); a
    text of very few words (or in a script written without spaces) by character 5-grams."""
    words = _WORD.findall(text.casefold())
    if len(words) >= MIN_WORDS_FOR_WORD_SHINGLES:
        return {
            " ".join(words[i : i + SHINGLE_WORDS]).encode("utf-8")
            for i in range(len(words) - SHINGLE_WORDS + 1)
        }
    joined = " ".join(words)
    if len(joined) <= CHAR_SHINGLE:
        return {joined.encode("utf-8")} if joined else set()
    return {
        joined[i : i + CHAR_SHINGLE].encode("utf-8") for i in range(len(joined) - CHAR_SHINGLE + 1)
    }


_TEMPLATE: MinHash | None = None


def signature(text: str) -> LeanMinHash | None:
    """The MinHash of the text's shingles; None for a text without words."""
    global _TEMPLATE
    found = shingles(text)
    if not found:
        return None
    if _TEMPLATE is None:  # the permutations, generated once
        _TEMPLATE = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME)
    minhash = MinHash(
        num_perm=NUM_PERM,
        seed=SEED,
        hashfunc=zlib.crc32,  # fast, in C; datasketch's affine32 scheme mixes it (fmix32)
        permutations=_TEMPLATE.permutations,
        scheme=SCHEME,
    )
    minhash.update_batch(list(found))
    return LeanMinHash(minhash)


def _to_blob(sig: LeanMinHash) -> bytes:
    return np.asarray(sig.hashvalues, dtype="<u4").tobytes()


def _from_blob(blob: bytes) -> LeanMinHash:
    values = np.frombuffer(blob, dtype="<u4").astype(np.uint32)
    return LeanMinHash(seed=SEED, hashvalues=values, scheme=SCHEME)


def _band_hash(band: bytes) -> bytes:
    """A band's key, 8 bytes (an SQLite integer) whatever the band's width."""
    return hashlib.blake2b(band, digest_size=8).digest()


def _key(value: bytes) -> int:
    return int.from_bytes(value, "big", signed=True)


# --- LSH buckets in SQLite -------------------------------------------------------------------


class _Buckets:
    """``MinHashLSH``'s banding (``b`` bands of ``r`` hash values, chosen by datasketch's
    optimiser for ``LSH_THRESHOLD``) with its hash tables as rows of ``ledger_story_bands``:
    a query is one indexed look-up of the ``b`` (band, key) pairs, an insert one statement."""

    def __init__(self, db: Database) -> None:
        self._db = db
        lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        self.b, self.r = int(lsh.b), int(lsh.r)
        self.ranges: list[tuple[int, int]] = list(lsh.hashranges)

    def keys(self, sig: LeanMinHash) -> list[tuple[int, int]]:
        """(band, key) of each band: its hash values' bytes as MinHashLSH takes them, hashed
        to 8 bytes (an SQLite integer) whatever the band's width."""
        values = np.asarray(sig.hashvalues)
        return [
            (band, _key(_band_hash(bytes(values[start:end].byteswap().data))))
            for band, (start, end) in enumerate(self.ranges)
        ]

    def candidates(self, pairs: list[tuple[int, int]]) -> list[str]:
        """The documents sharing at least one band (``keys``) with a signature."""
        # One statement, each band an indexed look-up (a join on VALUES may scan the table).
        one = "SELECT doc_id FROM ledger_story_bands WHERE band = ? AND key = ?"
        rows = self._db.execute(
            " UNION ".join([one] * len(pairs)), [v for pair in pairs for v in pair]
        ).fetchall()
        return sorted(r["doc_id"] for r in rows)

    def remove(self, doc_id: str, pairs: list[tuple[int, int]]) -> None:
        self._db.executemany(
            "DELETE FROM ledger_story_bands WHERE band = ? AND key = ? AND doc_id = ?",
            [(band, key, doc_id) for band, key in pairs],
        )

    def add(self, doc_id: str, pairs: list[tuple[int, int]]) -> None:
        self._db.executemany(
            "INSERT INTO ledger_story_bands(band, key, doc_id) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [(band, key, doc_id) for band, key in pairs],
        )


# --- the store --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assignment:
    """The story one article was given: the record with it, and the article it joined."""

    article: Article  # with its ``story_cluster``: the story's id, or its own for a new story
    similarity: float  # estimated Jaccard with the article it joined (0: a story of its own)
    joined: str | None  # the document it was found closest to


class StoryClusters:
    """The story of every indexed article, kept in the ledger's database at ``location`` (a
    SQLite file path or a ``postgresql://`` URL)."""

    def __init__(self, location: str | Path) -> None:
        self._db = open_database(location)
        try:
            migrate(self._db, "story_clusters", (_SCHEMA,), now_iso())
            self._buckets = _Buckets(self._db)
            self._check_parameters()
        except BaseException:
            self._db.close()
            raise

    def _parameters(self) -> str:
        return json.dumps(
            {
                "shingle_words": SHINGLE_WORDS,
                "char_shingle": CHAR_SHINGLE,
                "num_perm": NUM_PERM,
                "seed": SEED,
                "scheme": SCHEME,
                "hash": "crc32",
                "bands": [self._buckets.b, self._buckets.r],
            },
            sort_keys=True,
        )

    def _check_parameters(self) -> None:
        """Signatures made with other parameters cannot be compared with new ones: they are
        dropped (the stories already indexed keep their ids; new articles start new ones)."""
        wanted = self._parameters()
        with self._transaction():
            row = self._db.execute(
                "SELECT value FROM ledger_story_meta WHERE name = 'parameters'"
            ).fetchone()
            if row is not None and row["value"] == wanted:
                return
            if row is not None:
                LOG.warning("story clusters: signature parameters changed; earlier ones dropped")
                self._db.execute("DELETE FROM ledger_story_docs")
                self._db.execute("DELETE FROM ledger_story_bands")
            self._db.execute(
                "INSERT INTO ledger_story_meta(name, value) VALUES ('parameters', ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (wanted,),
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StoryClusters:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        # Serialized: two processes clustering at once see each other's articles, one after
        # the other, instead of both starting the same story.
        with self._db.transaction(serialize="article-etl story clusters"):
            yield

    def assign(self, articles: Sequence[Article]) -> list[Assignment]:
        """Give each article its story (a new record with ``story_cluster``), in order: an
        article may join the story of one before it in the same call. Its signature is kept."""
        signatures = [signature(a.text) for a in articles]  # outside the write lock
        with self._transaction():
            return [
                self._assign_one(article, sig)
                for article, sig in zip(articles, signatures, strict=True)
            ]

    def _assign_one(self, article: Article, sig: LeanMinHash | None) -> Assignment:
        doc_id = article.id
        self._forget(doc_id)  # processed again: compared afresh, never with itself
        if sig is None:
            return Assignment(replace(article, story_cluster=doc_id), 0.0, None)
        pairs = self._buckets.keys(sig)
        scored = [
            (float(sig.jaccard(other_sig)), cluster, other)
            for other, cluster, other_sig in self._signatures(self._buckets.candidates(pairs))
        ]
        # The closest article; equally close ones: the smaller story id (deterministic).
        best = min(scored, key=lambda s: (-s[0], s[1], s[2]), default=None)
        if best is not None and best[0] >= JOIN_THRESHOLD:
            found = Assignment(replace(article, story_cluster=best[1]), best[0], best[2])
        else:
            found = Assignment(replace(article, story_cluster=doc_id), 0.0, None)
        self._db.execute(
            "INSERT INTO ledger_story_docs(doc_id, cluster_id, signature, added_at) "
            "VALUES (?, ?, ?, ?)",
            (doc_id, found.article.story_cluster, _to_blob(sig), now_iso()),
        )
        self._buckets.add(doc_id, pairs)
        return found

    def _signatures(self, doc_ids: Sequence[str]) -> Iterator[tuple[str, str, LeanMinHash]]:
        for i in range(0, len(doc_ids), 500):
            chunk = doc_ids[i : i + 500]
            rows = self._db.execute(
                "SELECT doc_id, cluster_id, signature FROM ledger_story_docs "
                f"WHERE doc_id IN ({','.join('?' * len(chunk))})",
                list(chunk),
            ).fetchall()
            for row in rows:
                yield row["doc_id"], row["cluster_id"], _from_blob(bytes(row["signature"]))

    def forget(self, doc_ids: Iterable[str]) -> None:
        """The documents left the index: they are no longer anyone's closest article."""
        ids = list(doc_ids)
        if not ids:
            return
        with self._transaction():
            for doc_id in ids:
                self._forget(doc_id)

    def _forget(self, doc_id: str) -> None:
        row = self._db.execute(
            "SELECT signature FROM ledger_story_docs WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        if row is None:
            return
        self._buckets.remove(doc_id, self._buckets.keys(_from_blob(bytes(row["signature"]))))
        self._db.execute("DELETE FROM ledger_story_docs WHERE doc_id = ?", (doc_id,))

    def cluster_of(self, doc_id: str) -> str | None:
        row = self._db.execute(
            "SELECT cluster_id FROM ledger_story_docs WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        return str(row["cluster_id"]) if row else None

    def count(self) -> int:
        row = self._db.execute("SELECT COUNT(*) AS n FROM ledger_story_docs").fetchone()
        return int(row["n"]) if row else 0


# --- every index write passes through it -----------------------------------------------------


class ClusteringBackend:
    """An ``IndexBackend`` that gives every article its story before it is written (the
    ``story_cluster`` field of its document) and forgets the signatures of the documents it
    deletes. Everything else is the wrapped backend's."""

    def __init__(self, inner: IndexBackend, clusters: StoryClusters) -> None:
        self.inner = inner
        self.clusters = clusters
        self.name = inner.name

    def ensure_ready(self) -> None:
        self.inner.ensure_ready()

    def upsert(self, articles: Sequence[Article]) -> list[IndexResult]:
        if articles:
            articles = [found.article for found in self.clusters.assign(articles)]
        results = self.inner.upsert(articles)
        # Refused by the index: not in it, so nobody's closest article. (A failure of the
        # whole batch leaves the signatures: the inputs stay pending and are assigned again.)
        self.clusters.forget(r.doc_id for r in results if not r.ok)
        return results

    def bulk_writes(self) -> AbstractContextManager[None]:
        return self.inner.bulk_writes()

    def delete(self, doc_ids: Sequence[str]) -> None:
        self.inner.delete(doc_ids)
        self.clusters.forget(doc_ids)

    def get(self, doc_id: str) -> dict[str, Any] | None:
        return self.inner.get(doc_id)

    def search(self, request: SearchRequest) -> SearchResult:
        return self.inner.search(request)

    def count(self) -> int:
        return self.inner.count()

    def iter_documents(self) -> Iterator[dict[str, Any]]:
        return self.inner.iter_documents()

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self.clusters.close()


def with_story_clusters(backend: IndexBackend, ledger_location: str | Path) -> IndexBackend:
    """``backend`` with story clustering on its writes, the signatures in the ledger's
    database at ``ledger_location``."""
    try:
        clusters = StoryClusters(ledger_location)
    except BaseException:
        backend.close()
        raise
    return ClusteringBackend(backend, clusters)
