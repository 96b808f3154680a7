"""Searching the embedded index: the user's query as FTS5 expressions, the full-text match
and filters as masks over the facet postings, and the page of hits (ranked by BM25, or newest
first) with their snippets."""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from etl.backends.base import (
    STORY_FIELD,
    Hit,
    QueryTerm,
    SearchRequest,
    SearchResult,
    parse_query,
)
from etl.backends.sqlite.facets import (
    HISTOGRAM_WIDTH,
    FieldPostings,
    Ints,
    Mask,
    Postings,
    date_histogram,
    facet_counts,
    parse_ints,
)
from etl.backends.sqlite.storage import DATE_VALUE_CHARS, PUBLISHED, DocumentStore
from etl.schema import Schema

SNIPPET_TOKENS = 24
RANK_SCALE = 1e15  # BM25 ranks are read as integers of this many units per 1.0
MAX_PAGE = 10_000  # hits per page and offset + size, as Elasticsearch's max_result_window
SNIPPET_FIELD = "text"  # the text field snippets come from (as Elasticsearch's highlight)
# Undated documents come last, by id: up to this many are looked up and sorted, more are
# found walking the id index in order.
UNDATED_LOOKUP_MAX = 2_000


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


class FtsSearch:
    """The searches of one index file, over a snapshot of its facet postings."""

    def __init__(self, conn: sqlite3.Connection, store: DocumentStore, schema: Schema) -> None:
        self._conn = conn
        self._store = store
        self.schema = schema
        weights = ", ".join(str(f.search_weight) for f in schema.text_fields)
        self._rank = f"bm25({weights})"  # the schema's weights, whatever the file was made with

    def run(
        self, request: SearchRequest, postings: Postings, match: str, exclude: str
    ) -> SearchResult:
        """``request`` (validated) over ``postings``: ``match`` and ``exclude`` are its FTS5
        expressions (``fts_queries``)."""
        mask = postings.alive.copy()
        want = request.offset + request.size
        ranked: tuple[Ints, Ints] | None = None
        if match and want > request.offset:  # hits wanted: ranks with the matches
            ranked = self._ranks(match, postings.size)
            text = np.zeros(postings.size, dtype=np.bool_)
            text[ranked[0]] = True
            mask &= text
        elif match:
            mask &= self._fts_mask(match, postings.size)
        if exclude:
            mask &= ~self._fts_mask(exclude, postings.size)
        mask &= self._filter_mask(request, postings)
        total = int(np.count_nonzero(mask))
        want = min(want, total)
        page: list[tuple[int, float]] = []
        if ranked is not None and want > request.offset:
            page = self._best(ranked, mask, want)
        elif want > request.offset:
            page = [(n, 0.0) for n in self._newest(mask, want, postings)]
        hits = self._hits(page[request.offset :], match)
        facets = {
            name: facet_counts(postings, name, mask, request.facet_size) for name in request.facets
        }
        histogram = []
        if request.histogram:
            width = HISTOGRAM_WIDTH[request.histogram]
            histogram = date_histogram(postings, PUBLISHED, width, mask)
        return SearchResult(total=total, hits=hits, facets=facets, histogram=histogram)

    def _fts(self, sql: str, *params: str) -> Any:
        try:
            return self._conn.execute(sql, params).fetchone()
        except sqlite3.Error as exc:  # FTS5 syntax errors are the user's query, not a crash
            raise ValueError(f"invalid search query: {exc}") from None

    def _fts_mask(self, expression: str, size: int) -> Mask:
        """The documents matching an FTS5 expression."""
        row = self._fts(
            "SELECT group_concat(rowid) FROM articles_fts WHERE articles_fts MATCH ?", expression
        )
        rowids = parse_ints(row[0])
        out = np.zeros(size, dtype=np.bool_)
        out[rowids[rowids < size]] = True
        return out

    def _ranks(self, expression: str, size: int) -> tuple[Ints, Ints]:
        """The matching documents and their BM25 ranks (FTS5's rank, lower is better, in units
        of 1e-15: integers print and parse faster than reals, a fifth of this pass), one pass
        of the full-text index computed in SQLite, handed over as two strings."""
        row = self._fts(
            "SELECT group_concat(rowid), "
            f"group_concat(CAST(rank * {RANK_SCALE:.0e} AS INTEGER)) FROM articles_fts "
            "WHERE articles_fts MATCH ? AND rank MATCH ?",
            expression,
            self._rank,
        )
        rowids, ranks = parse_ints(row[0]), parse_ints(row[1])
        known = rowids < size  # committed after this reader's postings: not seen yet
        return rowids[known], ranks[known]

    def validate(self, request: SearchRequest) -> None:
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

    def _filter_mask(self, request: SearchRequest, postings: Postings) -> Mask:
        mask = np.ones(postings.size, dtype=np.bool_)
        for name, wanted in request.filters.items():
            if not wanted:
                continue
            field_postings = postings.fields[name]
            precise = np.zeros(postings.size, dtype=np.bool_)
            if field_postings.is_date:
                # A date facet value ("2025", "2025-03", "2025-03-14") stands for that period.
                values = field_postings.as_bytes()
                selected = np.zeros(len(values), dtype=np.bool_)
                for value in wanted:
                    raw = value.encode("utf-8")
                    if len(raw) <= DATE_VALUE_CHARS:
                        selected |= values.astype(f"S{max(len(raw), 1)}") == raw
                    else:
                        precise |= self._precise_dates(field_postings, value, postings.size)
            else:
                selected = np.zeros(len(field_postings.values), dtype=np.bool_)
                for value in wanted:
                    local = field_postings.ids.get(value)
                    if local is not None:
                        selected[local] = True
            mask &= field_postings.docs_with(selected, postings.size) | precise
        # Bounds compare at their own precision: "to 2025" includes all of 2025.
        start, end = request.published_from, request.published_to
        if start or end:
            dates = postings.fields.get(PUBLISHED)
            if dates is None:
                return np.zeros(postings.size, dtype=np.bool_)
            values = dates.as_bytes()
            selected = np.ones(len(values), dtype=np.bool_)
            if start:
                raw = start[:10].encode("utf-8")
                selected &= values.astype(f"S{len(raw)}") >= raw
            if end:
                raw = end[:10].encode("utf-8")
                selected &= values.astype(f"S{len(raw)}") <= raw
            mask &= dates.docs_with(selected, postings.size)
        return mask

    def _precise_dates(self, dates: FieldPostings, value: str, size: int) -> Mask:
        """Documents whose date starts with ``value``, more precise than the day the postings
        hold: that day's documents, checked against their stored value."""
        out = np.zeros(size, dtype=np.bool_)
        day = dates.ids.get(value[:DATE_VALUE_CHARS])
        if day is None:
            return out
        selected = np.zeros(len(dates.values), dtype=np.bool_)
        selected[day] = True
        candidates = np.flatnonzero(dates.docs_with(selected, size)).tolist()
        for n, blob in self._conn.execute(
            "SELECT n, doc FROM articles WHERE n IN (SELECT value FROM json_each(?))",
            (json.dumps(candidates),),
        ):
            stored = json.loads(zlib.decompress(blob)).get(dates.name)
            items = stored if isinstance(stored, list) else [stored]
            out[n] = any(str(item).startswith(value) for item in items if item)
        return out

    # --- the page -----------------------------------------------------------------------------
    def _best(self, ranked: tuple[Ints, Ints], mask: Mask, want: int) -> list[tuple[int, float]]:
        """The first ``want`` hits under ``mask`` by BM25 (best first; ties: newest, then id)."""
        rowids, ranks = ranked
        keep = mask[rowids]
        rowids, ranks = rowids[keep], ranks[keep]
        if len(ranks) > want:  # the best ``want``, and whatever ties with the last of them
            threshold = np.partition(ranks, want - 1)[want - 1]
            best = ranks <= threshold
            rowids, ranks = rowids[best], ranks[best]
        order = np.argsort(ranks, kind="stable")
        candidates = [(int(ranks[i]), int(rowids[i])) for i in order]
        return [(n, -rank / RANK_SCALE) for rank, n in self._break_ties(candidates)][:want]

    def _break_ties(self, ranked: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Equal scores: newest first, then by id (as Elasticsearch's sort)."""
        ranks = [rank for rank, _ in ranked]
        tied = [
            n
            for i, (rank, n) in enumerate(ranked)
            if rank in (ranks[i - 1] if i else None, ranks[i + 1] if i + 1 < len(ranks) else None)
        ]
        if not tied:
            return ranked
        keys = dict(self._sort_keys(tied))
        order = sorted(ranked, key=lambda r: keys.get(r[1], ("", ""))[1])  # id ascending
        order.sort(key=lambda r: keys.get(r[1], ("", ""))[0], reverse=True)  # newest first
        order.sort(key=lambda r: r[0])  # best score first
        return order

    def _sort_keys(self, ns: list[int]) -> Iterator[tuple[int, tuple[str, str]]]:
        rows = self._conn.execute(
            "SELECT n, published, id FROM articles WHERE n IN (SELECT value FROM json_each(?))",
            (json.dumps(ns),),
        )
        for n, published, doc_id in rows:
            yield int(n), (published or "", doc_id)

    def _newest(self, mask: Mask, want: int, postings: Postings) -> list[int]:
        """The first ``want`` documents under ``mask``, newest first (ties by id), undated
        last by id: ``ORDER BY published DESC, id`` without an index on it (storage.py says
        why). The postings know each document's day: only the rows of the newest days under
        ``mask`` that hold ``want`` documents are read, for the exact order within them."""
        page: list[int] = []
        dated = np.zeros(postings.size, dtype=np.bool_)
        dates = postings.fields.get(PUBLISHED)
        if dates is not None and dates.values:
            labels, codes = dates.prefix_codes(DATE_VALUE_CHARS)  # the days, in order
            per_day = np.bincount(codes, weights=dates.counts(mask), minlength=len(labels))
            days = int(np.searchsorted(np.cumsum(per_day[::-1]), want)) + 1
            first_day = max(len(labels) - days, 0)
            dated = dates.docs_with(codes >= first_day, postings.size) & mask
            page = self._by_date(np.flatnonzero(dated))[:want]
            if len(page) < want and first_day:  # a document with two dates counted twice
                dated = dates.docs_with(codes >= 0, postings.size) & mask
                page = self._by_date(np.flatnonzero(dated))[:want]
        if len(page) < want:
            page += self._by_id(mask & ~dated, want - len(page))
        return page

    def _by_date(self, ns: Ints) -> list[int]:
        """Documents newest first, ties by id."""
        keys = sorted(self._sort_keys(ns.tolist()), key=lambda k: k[1][1])  # id ascending
        keys.sort(key=lambda k: k[1][0], reverse=True)  # then newest first (a stable sort)
        return [n for n, _ in keys]

    def _by_id(self, undated: Mask, want: int) -> list[int]:
        """The first ``want`` documents of ``undated`` by id."""
        ns = np.flatnonzero(undated)
        if len(ns) <= UNDATED_LOOKUP_MAX:
            by_id = sorted((key[1], n) for n, key in self._sort_keys(ns.tolist()))
            return [n for _, n in by_id[:want]]
        out: list[int] = []
        cursor = self._conn.execute("SELECT n FROM articles ORDER BY id")  # the id index
        try:
            while len(out) < want and (rows := cursor.fetchmany(1000)):
                out.extend(n for (n,) in rows if n < len(undated) and undated[n])
        finally:
            cursor.close()
        return out[:want]

    def _hits(self, page: list[tuple[int, float]], match: str) -> list[Hit]:
        if not page:
            return []
        ns = [n for n, _ in page]
        rows = {
            int(r[0]): r
            for r in self._conn.execute(
                f"SELECT n, {self._store.doc_columns()} FROM articles "
                "WHERE n IN (SELECT value FROM json_each(?))",
                (json.dumps(ns),),
            )
        }
        snippets: dict[int, str] = {}
        if match and SNIPPET_FIELD in self._store.text_fields:
            column = self._store.text_fields.index(SNIPPET_FIELD)
            statement = (
                f"SELECT snippet(articles_fts, {column}, '<mark>', '</mark>', '…', "
                f"{SNIPPET_TOKENS}) FROM articles_fts WHERE articles_fts MATCH ? AND rowid = ?"
            )
            for n in ns:
                row = self._conn.execute(statement, (match, n)).fetchone()
                snippets[n] = row[0] if row else ""
        hits = []
        for n, score in page:
            doc = self._store.document(rows[n][1:])
            hits.append(
                Hit(
                    id=doc["id"],
                    score=round(score, 4),
                    title=doc.get("title") or "",
                    url=doc.get("url") or "",
                    source=doc.get("source") or "",
                    site=doc.get("site") or "",
                    published=doc.get("published"),
                    language=doc.get("language") or "",
                    snippet=snippets.get(n) or _lead(doc.get(SNIPPET_FIELD) or ""),
                    story_cluster=doc.get(STORY_FIELD),
                )
            )
        return hits
