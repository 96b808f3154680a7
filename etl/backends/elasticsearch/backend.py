"""The Elasticsearch index backend.

Writes go through the write alias (``<es_alias>-write``) with ``elasticsearch.helpers.
streaming_bulk``; reads through the read alias (``<es_alias>``). ``article-etl es setup``
creates the template, the first versioned index and both aliases (see ``admin``).

Failures, as the pipeline sees them:

* a document Elasticsearch refuses (mapping conflict, strict_dynamic_mapping_exception, any
  other 4xx item error) -> ``IndexResult(ok=False, reason="<type>: <reason>")``;
* 429 / 5xx / connection errors that persist after retries -> ``TransientIndexError`` (the
  batch fails, Airflow retries it, the inputs stay pending);
* authentication, missing aliases, TLS problems -> ``IndexSetupError`` (see ``client``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.helpers import scan, streaming_bulk

from etl.backends.base import (
    IndexError_,
    IndexResult,
    IndexSetupError,
    SearchRequest,
    SearchResult,
    SearchTimeout,
    TransientIndexError,
)
from etl.backends.elasticsearch.client import (
    MAX_BACKOFF_SECONDS,
    SETUP_HINT,
    build_client,
    check_reachable,
    error_reason,
    error_type,
    es_errors,
    read_alias,
    write_alias,
)
from etl.backends.elasticsearch.query import build_search_body, parse_search_response
from etl.record import Article
from etl.settings import Settings, redact_url

log = logging.getLogger(__name__)

# For _bulk the transport leaves 429 to streaming_bulk, whose exponential backoff
# (initial_backoff * 2**n) is meant for "too many requests"; it also retries per-item 429s.
BULK_TRANSPORT_RETRY_ON_STATUS = (502, 503, 504)
REQUEST_TOO_LARGE = 413


# --------------------------------------------------------------------------- bulk


def bulk_actions(articles: Iterable[Article], index: str) -> Iterator[dict[str, Any]]:
    """Index actions: ``_id`` is the article id, so a re-run replaces instead of duplicating."""
    for article in articles:
        yield {
            "_op_type": "index",
            "_index": index,
            "_id": article.id,
            "_source": article.to_document(),
        }


def delete_actions(doc_ids: Iterable[str], index: str) -> Iterator[dict[str, Any]]:
    for doc_id in doc_ids:
        yield {"_op_type": "delete", "_index": index, "_id": doc_id}


def _is_transient(status: int) -> bool:
    return status == 429 or status >= 500


# --------------------------------------------------------------------------- backend


class ElasticsearchBackend:
    """``IndexBackend`` on an Elasticsearch cluster (read/write aliases, see module doc)."""

    name = "elasticsearch"

    def __init__(self, client: Elasticsearch, settings: Settings) -> None:
        self._client = client
        self._settings = settings
        self._url = redact_url(settings.index)
        self.read_alias = read_alias(settings)
        self.write_alias = write_alias(settings)
        self._refresh_deferred = False
        self._refresh_pending = False

    @classmethod
    def from_settings(cls, settings: Settings) -> ElasticsearchBackend:
        """A backend on a reachable cluster (TransientIndexError at once when it is not)."""
        client = build_client(settings)
        try:
            check_reachable(client, settings.index, settings.es_probe_timeout)
        except BaseException:
            client.close()
            raise
        return cls(client, settings)

    def __repr__(self) -> str:
        return f"ElasticsearchBackend(url={self._url!r}, alias={self.read_alias!r})"

    @property
    def client(self) -> Elasticsearch:
        return self._client

    def _errors(self, what: str) -> Any:
        return es_errors(what, self._url)

    def ensure_ready(self) -> None:
        with self._errors("checking the aliases"):
            for alias in (self.read_alias, self.write_alias):
                if not self._client.indices.exists_alias(name=alias):
                    raise IndexSetupError(f"alias {alias!r} not found at {self._url}: {SETUP_HINT}")

    @contextmanager
    def bulk_writes(self) -> Iterator[None]:
        self._refresh_deferred = True
        try:
            yield
        finally:
            self._refresh_deferred = False
        # Only when the block succeeded: after a failure the cluster may be gone, and its
        # refresh_interval makes what was acknowledged searchable anyway.
        if self._refresh_pending:
            self._refresh_pending = False
            with self._errors("refreshing the index"):
                self._client.indices.refresh(index=self.write_alias)

    def upsert(self, articles: Sequence[Article]) -> list[IndexResult]:
        if not articles:
            return []
        with self._errors(f"indexing {len(articles)} document(s)"):
            results = self._index(articles, self._settings.es_chunk_docs)
            if any(r.ok for r in results.values()):
                if self._refresh_deferred:
                    self._refresh_pending = True
                else:
                    # Searchable when upsert returns: one refresh per call, not per chunk.
                    self._client.indices.refresh(index=self.write_alias)
        return [
            results.get(a.id) or IndexResult(a.id, False, "Elasticsearch returned no result")
            for a in articles
        ]

    def _index(self, articles: Sequence[Article], chunk_docs: int) -> dict[str, IndexResult]:
        """Bulk-index; a request the cluster finds too large (413: over its
        http.max_content_length) is sent again in halves, down to one document, which is then
        rejected with the reason instead of being lost or failing the batch."""
        results, transient = self._bulk(bulk_actions(articles, self.write_alias), chunk_docs)
        if transient:
            raise self._transient_error(transient)
        too_large = [
            a for a in articles if (r := results.get(a.id)) and r.status == REQUEST_TOO_LARGE
        ]
        if not too_large:
            return results
        if chunk_docs == 1:  # each was alone in its request, and still too large
            for article in too_large:
                results[article.id] = IndexResult(
                    article.id,
                    False,
                    "the document is larger than Elasticsearch accepts in one request "
                    "(HTTP 413: over the cluster's http.max_content_length)",
                )
            return results
        half = max(1, min(chunk_docs, len(too_large)) // 2)
        log.info(
            "request too large for %s: %d document(s) again, %d a request",
            self._url,
            len(too_large),
            half,
        )
        results.update(self._index(too_large, half))
        return results

    def _bulk(
        self, actions: Iterator[dict[str, Any]], chunk_docs: int | None = None
    ) -> tuple[dict[str, IndexResult], list[tuple[str, int, str]]]:
        s = self._settings
        results: dict[str, IndexResult] = {}
        transient: list[tuple[str, int, str]] = []
        for ok, item in streaming_bulk(
            self._client.options(retry_on_status=BULK_TRANSPORT_RETRY_ON_STATUS),
            actions,
            chunk_size=chunk_docs or s.es_chunk_docs,
            max_chunk_bytes=s.es_chunk_bytes,
            max_retries=s.es_max_retries,
            initial_backoff=s.es_retry_initial_backoff,
            max_backoff=MAX_BACKOFF_SECONDS,
            raise_on_error=False,
            raise_on_exception=False,
            # Never let a missing alias auto-create an unmapped index of that name.
            require_alias=True,
        ):
            op_type, info = next(iter(item.items()))
            doc_id = str(info.get("_id", ""))
            if ok:
                results[doc_id] = IndexResult(doc_id, True)
                continue
            status = int(info.get("status", 500))
            reason = error_reason(info.get("error"))
            self._raise_for_setup(status, reason)
            if _is_transient(status):
                transient.append((doc_id, status, reason))
            elif op_type == "delete" and status == 404:
                results[doc_id] = IndexResult(doc_id, True)  # already gone
            else:
                log.info("Elasticsearch rejected document %s: %s", doc_id, reason)
                results[doc_id] = IndexResult(doc_id, False, reason, status=status)
        return results, transient

    def _raise_for_setup(self, status: int, reason: str) -> None:
        if status == 401:
            raise IndexSetupError(
                f"Elasticsearch at {self._url} refused the credentials (401): check "
                "ARTICLE_ETL_ES_API_KEY or ARTICLE_ETL_ES_USERNAME/ARTICLE_ETL_ES_PASSWORD"
            )
        if status == 403:
            raise IndexSetupError(f"Elasticsearch at {self._url} denied indexing (403): {reason}")
        if status == 404 and "index_not_found_exception" in reason:
            raise IndexSetupError(
                f"write alias {self.write_alias!r} not found at {self._url}: {SETUP_HINT}"
            )

    def _transient_error(self, transient: list[tuple[str, int, str]]) -> TransientIndexError:
        _, status, reason = transient[0]
        return TransientIndexError(
            f"{len(transient)} document(s) not indexed: Elasticsearch at {self._url} kept "
            f"answering {status} after {self._settings.es_max_retries} retries ({reason}); "
            "they stay pending"
        )

    def delete(self, doc_ids: Sequence[str]) -> None:
        if not doc_ids:
            return
        with self._errors(f"deleting {len(doc_ids)} document(s)"):
            results, transient = self._bulk(delete_actions(doc_ids, self.write_alias))
            if transient:
                raise self._transient_error(transient)
            failed = [r for r in results.values() if not r.ok]
            if failed:
                raise IndexError_(f"could not delete {failed[0].doc_id}: {failed[0].reason}")
            self._client.indices.refresh(index=self.write_alias)

    def get(self, doc_id: str) -> dict[str, Any] | None:
        with self._errors(f"reading document {doc_id}"):
            try:
                found = self._client.get(index=self.read_alias, id=doc_id)
            except NotFoundError as exc:
                if error_type(exc.body) == "index_not_found_exception":
                    raise
                return None
            source: dict[str, Any] = found.body["_source"]
            return source

    def count(self) -> int:
        with self._errors("counting documents"):
            return int(self._client.count(index=self.read_alias).body["count"])

    def iter_documents(self) -> Iterator[dict[str, Any]]:
        """Every document of the read alias (a scroll, in no particular order)."""
        with self._errors("reading all documents"):
            for hit in scan(self._client, index=self.read_alias, size=500, scroll="5m"):
                source: dict[str, Any] = hit["_source"]
                yield source

    def search(self, request: SearchRequest) -> SearchResult:
        # ValueError for unknown fields or a query too large, before any request.
        body = build_search_body(request, self._settings.search_timeout)
        with self._errors("searching"):
            response = self._client.search(index=self.read_alias, body=body)
        if response.body.get("timed_out"):  # partial results: an error, as on the embedded index
            raise SearchTimeout(self._settings.search_timeout)
        return parse_search_response(response.body, request)

    def close(self) -> None:
        self._client.close()
