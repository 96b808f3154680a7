"""The one small interface every index backend implements, and the search API's shapes.

Results have the same shape from every backend, so the CLI, the DAGs and the contract tests
(tests/backends/test_backend_contract.py) do not care which one is behind them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

from etl.errors import SetupError, TransientError
from etl.record import Article


class IndexError_(Exception):
    """Base of index errors."""


class TransientIndexError(IndexError_, TransientError):
    """The index could not be reached or is overloaded (network, 429/503 after retries).

    The batch fails so that Airflow retries the task; its documents stay pending."""


class IndexSetupError(IndexError_, SetupError):
    """The index is missing or misconfigured (run ``article-etl es setup``)."""


class NotAnIndexError(IndexSetupError):
    """The index target is not an index at all (a text file, another program's database): the
    user pointed ``--index`` / ``ARTICLE_ETL_INDEX`` at the wrong thing."""


class SearchTimeout(IndexError_):
    """A search ran past its time budget (``ARTICLE_ETL_SEARCH_TIMEOUT``) and was stopped."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"search stopped: it took longer than {seconds:g}s (ARTICLE_ETL_SEARCH_TIMEOUT); "
            "try fewer or longer prefixes, or fewer OR terms"
        )


class QueryTooLarge(ValueError):
    """A query past ``MAX_QUERY_CHARS`` or ``MAX_QUERY_TERMS``: refused before it runs."""


@dataclass(slots=True)
class IndexResult:
    """What the index said of one document: ``ok``, or rejected with the index's reason."""

    doc_id: str
    ok: bool
    reason: str = ""
    # The HTTP status of a refusal, where the index has one (not part of equality).
    status: int | None = field(default=None, compare=False)


@dataclass(slots=True)
class SearchRequest:
    """A search: query, filters, facets, histogram and page (the same for every backend)."""

    query: str = ""
    # field -> accepted values (OR within a field, AND across fields); fields are facet fields
    filters: dict[str, list[str]] = field(default_factory=dict)
    published_from: str | None = None  # ISO date, inclusive
    published_to: str | None = None  # ISO date, inclusive
    facets: list[str] = field(default_factory=list)
    facet_size: int = 10
    histogram: str | None = None  # "year", "month" or "day" buckets of the publication date
    size: int = 10
    offset: int = 0
    # One hit per story (``story_cluster``): the best-ranked of its matching copies, with the
    # number of them (``Hit.cluster_size``); ``size`` and ``offset`` count stories then.
    collapse: bool = False


@dataclass(slots=True)
class FacetValue:
    """One value of a facet or histogram bucket and how many documents have it."""

    value: str
    count: int


@dataclass(slots=True)
class Hit:
    """One document of a result page, with its highlighted snippet."""

    id: str
    score: float
    title: str
    url: str
    source: str
    site: str
    published: str | None
    language: str
    snippet: str  # highlighted with <mark>...</mark>
    story_cluster: str | None = None  # the story it belongs to (etl.clusters)
    cluster_size: int | None = None  # collapsed searches: the story's matching copies


@dataclass(slots=True)
class SearchResult:
    """What a search found: the total, a page of hits, facets and histogram."""

    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    histogram: list[FacetValue] = field(default_factory=list)
    # Collapsed searches: how many stories the ``total`` matching documents make.
    stories: int | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.stories is None:  # not collapsed: there is no story count to show
            del data["stories"]
        return data


class IndexBackend(Protocol):
    """An index of article documents. Implementations: ``sqlite`` (embedded), ``elasticsearch``."""

    name: str

    def ensure_ready(self) -> None:
        """Create what is missing (embedded) or check the index exists (Elasticsearch)."""

    def upsert(self, articles: Sequence[Article]) -> list[IndexResult]:
        """Index or replace documents by id. One result per article, in order.

        Documents the index refuses are returned as not ok with its reason; a transient
        failure that persists after retries raises ``TransientIndexError``."""
        ...

    def bulk_writes(self) -> AbstractContextManager[None]:
        """Upserts inside become searchable when the block ends rather than after each call
        (one refresh for a whole run instead of one per batch; durability is the same)."""
        ...

    def delete(self, doc_ids: Sequence[str]) -> None: ...

    def get(self, doc_id: str) -> dict[str, Any] | None:
        """The stored document (as ``Article.to_document()`` made it), or None."""
        ...

    def search(self, request: SearchRequest) -> SearchResult: ...

    def count(self) -> int: ...

    def iter_documents(self) -> Iterator[dict[str, Any]]:
        """Every stored document (as ``get`` returns it), one at a time: exports, backups."""
        ...

    def close(self) -> None: ...


# --- the query syntax both backends read ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueryTerm:
    """One word, a phrase (several words), or a prefix (one word, ``glaci*``)."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(slots=True)
class ParsedQuery:
    """``groups`` are ORed; the terms of a group are ANDed; a document holding any ``excluded``
    term does not match, whatever the groups say."""

    groups: list[list[QueryTerm]] = field(default_factory=list)
    excluded: list[QueryTerm] = field(default_factory=list)


_QUERY_TOKEN = re.compile(r'-?"[^"]*"|\S+')
_POSSESSIVE = re.compile(r"(\w)['’]s\b")
# Bounds of a query, both backends alike: a query past them is refused before it runs (a few
# hundred prefix terms can keep an index busy for minutes).
MAX_QUERY_CHARS = 1000
MAX_QUERY_TERMS = 64


def parse_query(query: str) -> ParsedQuery:
    """The user query syntax: words are ANDed, ``"a phrase"``, ``prefix*``, ``OR`` between
    terms, ``NOT term`` or ``-term`` to exclude (a word, phrase or prefix). ``AND`` is allowed
    and changes nothing. Punctuation is never syntax: only the words of a token count
    (``U.S.`` is the phrase "U S", ``(budget)`` the word budget); English possessives are
    dropped (``Putin's`` -> Putin), as Elasticsearch's english analyzer does.

    A query longer than ``MAX_QUERY_CHARS`` characters or with more than ``MAX_QUERY_TERMS``
    terms (words, phrases and prefixes, excluded ones included) raises ``QueryTooLarge``."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryTooLarge(
            f"query too long: {len(query):,} characters (at most {MAX_QUERY_CHARS:,})"
        )
    parsed = ParsedQuery(groups=[[]])
    negate = False
    for token in _QUERY_TOKEN.findall(_POSSESSIVE.sub(r"\1", query.strip())):
        if token == "AND":
            continue
        if token == "NOT":
            negate = True
            continue
        if token == "OR":
            if parsed.groups[-1]:
                parsed.groups.append([])
            continue
        if token.startswith("-") and len(token) > 1:
            negate, token = True, token[1:]
        term = _query_term(token)
        if term is not None:
            (parsed.excluded if negate else parsed.groups[-1]).append(term)
        negate = False
    parsed.groups = [g for g in parsed.groups if g]
    terms = sum(len(g) for g in parsed.groups) + len(parsed.excluded)
    if terms > MAX_QUERY_TERMS:
        raise QueryTooLarge(
            f"query has too many terms: {terms} (at most {MAX_QUERY_TERMS}; words, phrases "
            "and prefixes count one each)"
        )
    return parsed


def _query_term(token: str) -> QueryTerm | None:
    words = tuple(re.findall(r"\w+", token))
    if not words:
        return None
    prefix = not token.startswith('"') and token.endswith("*") and len(words) == 1
    return QueryTerm(words, prefix)


# --- one hit per story ----------------------------------------------------------------------

STORY_FIELD = "story_cluster"
COLLAPSE_WINDOW = 10_000  # hits a collapsed search walks at most (Elasticsearch's window)


def collapse_by_story(backend: IndexBackend, request: SearchRequest) -> SearchResult:
    """``request.collapse`` for a backend that does not collapse by itself (the embedded index),
    with the semantics of Elasticsearch's ``collapse`` (``etl.backends.elasticsearch``): the
    hits in the usual order, only the first of each story kept, with the number of the story's
    documents that match (``Hit.cluster_size``); ``offset`` and ``size`` count stories; ``total``,
    facets and histogram count documents, ``stories`` the stories they make. A document without
    a story (indexed before stories existed) is a story of its own.

    Built on ``backend.search`` alone: one search with the story facet for the sizes, one for
    the facets, histogram and first hits, then more hits in growing pages only while fewer than
    ``offset + size`` stories were seen. ``stories`` is exact while at most 10,000 stories have
    more than one matching document."""
    plain = replace(request, collapse=False)
    counted = backend.search(
        replace(
            plain,
            facets=[STORY_FIELD],
            facet_size=COLLAPSE_WINDOW,
            histogram=None,
            size=0,
            offset=0,
        )
    )
    sizes = {v.value: v.count for v in counted.facets.get(STORY_FIELD, [])}
    truncated = len(sizes) >= COLLAPSE_WINDOW
    wanted = request.offset + request.size
    page = min(COLLAPSE_WINDOW, wanted * 3 + 10) if wanted else 0
    first = backend.search(replace(plain, offset=0, size=page))
    groups: dict[str, Hit] = {}
    hits, seen = first.hits, len(first.hits)
    while True:
        for hit in hits:
            story = _story_of(backend, hit)
            groups.setdefault(story, hit)
        if len(groups) >= wanted or not hits or seen >= min(first.total, COLLAPSE_WINDOW):
            break
        page = min(page * 4, COLLAPSE_WINDOW - seen)
        more = replace(plain, facets=[], histogram=None, offset=seen, size=page)
        hits = backend.search(more).hits
        seen += len(hits)
    shown = list(groups.items())[request.offset : wanted]
    unknown = [story for story, _ in shown if story not in sizes]
    if truncated and unknown:  # stories past the facet's window: counted one by one
        extra = backend.search(
            replace(
                plain,
                filters={**plain.filters, STORY_FIELD: unknown},
                facets=[STORY_FIELD],
                facet_size=len(unknown),
                histogram=None,
                size=0,
                offset=0,
            )
        )
        sizes.update({v.value: v.count for v in extra.facets.get(STORY_FIELD, [])})
    for story, hit in shown:
        hit.cluster_size = sizes.get(story, 1)
    return SearchResult(
        total=first.total,
        hits=[hit for _, hit in shown],
        facets=first.facets,
        histogram=first.histogram,
        stories=counted.total - sum(count - 1 for count in sizes.values() if count > 1),
    )


def _story_of(backend: IndexBackend, hit: Hit) -> str:
    """The hit's story (asking the backend when the hit does not say); its own id if none."""
    if hit.story_cluster is None:
        doc = backend.get(hit.id) or {}
        hit.story_cluster = str(doc.get(STORY_FIELD) or "") or None
    return hit.story_cluster or hit.id
