"""The one small interface every index backend implements, and the search API's shapes.

Results have the same shape from every backend, so the CLI, the DAGs and the contract tests
(tests/test_backend_contract.py) do not care which one is behind them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from etl.record import Article


class IndexError_(Exception):
    """Base of index errors."""


class TransientIndexError(IndexError_):
    """The index could not be reached or is overloaded (network, 429/503 after retries).

    The batch fails so that Airflow retries the task; its documents stay pending."""


class IndexSetupError(IndexError_):
    """The index is missing or misconfigured (run ``article-etl es setup``)."""


class NotAnIndexError(IndexSetupError):
    """The index target is not an index at all (a text file, another program's database): the
    user pointed ``--index`` / ``ARTICLE_ETL_INDEX`` at the wrong thing."""


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


@dataclass(slots=True)
class FacetValue:
    value: str
    count: int


@dataclass(slots=True)
class Hit:
    id: str
    score: float
    title: str
    url: str
    source: str
    site: str
    published: str | None
    language: str
    snippet: str  # highlighted with <mark>...</mark>


@dataclass(slots=True)
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    histogram: list[FacetValue] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def parse_query(query: str) -> ParsedQuery:
    """The user query syntax: words are ANDed, ``"a phrase"``, ``prefix*``, ``OR`` between
    terms, ``NOT term`` or ``-term`` to exclude (a word, phrase or prefix). ``AND`` is allowed
    and changes nothing. Punctuation is never syntax: only the words of a token count
    (``U.S.`` is the phrase "U S", ``(budget)`` the word budget); English possessives are
    dropped (``Putin's`` -> Putin), as Elasticsearch's english analyzer does."""
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
    return parsed


def _query_term(token: str) -> QueryTerm | None:
    words = tuple(re.findall(r"\w+", token))
    if not words:
        return None
    prefix = not token.startswith('"') and token.endswith("*") and len(words) == 1
    return QueryTerm(words, prefix)
