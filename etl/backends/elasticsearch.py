"""The Elasticsearch index backend.

Writes go through the write alias (``<es_alias>-write``) with ``elasticsearch.helpers.
streaming_bulk``; reads through the read alias (``<es_alias>``). ``article-etl es setup``
creates the template, the first versioned index and both aliases (see ``etl.es_admin``).

Failures, as the pipeline sees them:

* a document Elasticsearch refuses (mapping conflict, strict_dynamic_mapping_exception, any
  other 4xx item error) -> ``IndexResult(ok=False, reason="<type>: <reason>")``;
* 429 / 5xx / connection errors that persist after retries -> ``TransientIndexError`` (the
  batch fails, Airflow retries it, the inputs stay pending);
* authentication, missing aliases, TLS problems -> ``IndexSetupError``.

Credentials (``Secret``) are unwrapped only in ``build_client``; messages show URLs without
userinfo.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    ConnectionTimeout,
    Elasticsearch,
    NotFoundError,
    UnsupportedProductError,
)
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import SSLError as EsSSLError
from elasticsearch import TransportError as EsTransportError
from elasticsearch.helpers import scan, streaming_bulk

from etl.backends.base import (
    STORY_FIELD,
    FacetValue,
    Hit,
    IndexError_,
    IndexResult,
    IndexSetupError,
    QueryTerm,
    SearchRequest,
    SearchResult,
    SearchTimeout,
    TransientIndexError,
    parse_query,
)
from etl.record import Article
from etl.schema import load_schema
from etl.settings import Settings, redact_url

log = logging.getLogger(__name__)

# Statuses the client's transport retries (with backoff) for every request.
RETRY_ON_STATUS = (429, 502, 503, 504)
# For _bulk the transport leaves 429 to streaming_bulk, whose exponential backoff
# (initial_backoff * 2**n) is meant for "too many requests"; it also retries per-item 429s.
BULK_TRANSPORT_RETRY_ON_STATUS = (502, 503, 504)
MAX_BACKOFF_SECONDS = 60.0
REQUEST_TOO_LARGE = 413
SNIPPET_CHARS = 200
HIGHLIGHT_PRE, HIGHLIGHT_POST = "<mark>", "</mark>"
HISTOGRAM_FORMATS = {"year": "yyyy", "month": "yyyy-MM", "day": "yyyy-MM-dd"}
# Date values by length -> (format, rounding unit): "2025" covers the year, "2025-03" the month.
_DATE_PRECISION = {4: ("yyyy", "y"), 7: ("yyyy-MM", "M"), 10: ("yyyy-MM-dd", "d")}
HIT_SOURCE_FIELDS = [
    "id",
    "title",
    "url",
    "source",
    "site",
    "published",
    "language",
    "text",
    STORY_FIELD,
]
STORY_HITS = "story"  # the inner_hits of a collapsed hit: its story's matching documents
# Stories are counted exactly up to this many (cardinality's largest precision_threshold).
STORY_COUNT_PRECISION = 40_000
SETUP_HINT = "run `article-etl es setup`"


# --------------------------------------------------------------------------- names, URLs


def read_alias(settings: Settings) -> str:
    return settings.es_alias


def write_alias(settings: Settings) -> str:
    return f"{settings.es_alias}-write"


def _url_credentials(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    if parts.username is None:
        return None
    return unquote(parts.username), unquote(parts.password or "")


# --------------------------------------------------------------------------- client


def build_client(settings: Settings) -> Elasticsearch:
    """The client for ``settings.index``: the only place where secrets are unwrapped."""
    url = redact_url(settings.index)
    if not settings.uses_elasticsearch:
        raise IndexSetupError(
            f"{settings.index!r} is not an Elasticsearch URL: set ARTICLE_ETL_INDEX=https://... "
            "or pass --index"
        )
    kwargs: dict[str, Any] = {
        "hosts": [url],
        "request_timeout": settings.es_request_timeout,
        "retry_on_status": RETRY_ON_STATUS,
        "retry_on_timeout": True,
        "max_retries": settings.es_max_retries,
        # Both > 0 turn on the transport's jittered exponential backoff between retries.
        "retry_backoff_base": settings.es_retry_initial_backoff,
        "retry_backoff_cap": MAX_BACKOFF_SECONDS,
    }
    if url.startswith("https://"):
        kwargs.update(_tls_options(settings, url))
    url_credentials = _url_credentials(settings.index)
    if settings.es_api_key:
        kwargs["api_key"] = _api_key(settings.es_api_key.get())
    elif settings.es_username:
        password = settings.es_password.get() if settings.es_password else ""
        kwargs["basic_auth"] = (settings.es_username, password)
    elif url_credentials:
        kwargs["basic_auth"] = url_credentials
    return Elasticsearch(**kwargs)


def _tls_options(settings: Settings, url: str) -> dict[str, Any]:
    options: dict[str, Any] = {"verify_certs": settings.es_verify_certs}
    if settings.es_ca_certs:
        options["ca_certs"] = settings.es_ca_certs
    if not settings.es_verify_certs:
        # Loud once, instead of urllib3's warning on every request.
        log.warning(
            "TLS certificate verification is OFF for %s (ARTICLE_ETL_ES_VERIFY_CERTS=false): "
            "anyone on the network path can read the credentials; prefer "
            "ARTICLE_ETL_ES_CA_CERTS",
            url,
        )
        options["ssl_show_warn"] = False
    return options


def _api_key(raw: str) -> str | tuple[str, str]:
    # "id:api_key" as printed by Kibana's "Create API key", or the base64 "encoded" form.
    if ":" in raw:
        key_id, key = raw.split(":", 1)
        return key_id, key
    return raw


# --------------------------------------------------------------------------- errors


@contextmanager
def es_errors(what: str, url: str | None = None) -> Iterator[None]:
    """Translate client exceptions into the index errors the pipeline and CLI understand.

    Messages are one line, carry the redacted URL at most, and never the request headers."""
    where = f" at {redact_url(url)}" if url else ""
    try:
        yield
    except EsSSLError as exc:
        raise IndexSetupError(
            f"TLS error talking to Elasticsearch{where} while {what}: {_short(exc)} "
            "(set ARTICLE_ETL_ES_CA_CERTS to the cluster's CA certificate)"
        ) from None
    except EsConnectionError as exc:
        raise TransientIndexError(
            f"cannot reach Elasticsearch{where} ({connection_reason(exc)}) while {what}"
        ) from None
    except UnsupportedProductError:
        raise IndexSetupError(
            f"the server{where} is not Elasticsearch (no X-Elastic-Product header)"
        ) from None
    except AuthenticationException:
        raise IndexSetupError(
            f"Elasticsearch{where} refused the credentials (401) while {what}: check "
            "ARTICLE_ETL_ES_API_KEY or ARTICLE_ETL_ES_USERNAME/ARTICLE_ETL_ES_PASSWORD"
        ) from None
    except AuthorizationException as exc:
        raise IndexSetupError(
            f"Elasticsearch{where} denied {what} (403): {_api_reason(exc)}"
        ) from None
    except ApiError as exc:
        raise _api_error(exc, what, where) from None
    except EsTransportError as exc:  # timeouts after retries, serialization problems
        raise TransientIndexError(
            f"Elasticsearch{where} failed while {what}: {_short(exc)}"
        ) from None


def connection_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words ("connection refused", "timed out"), instead
    of the client's nested repr of urllib3's exceptions."""
    text = "\n".join(
        [str(getattr(exc, "message", "")), str(exc), repr(exc.__cause__ or exc.__context__)]
    )
    errno = re.search(r"\[Errno -?\d+\] ([^)'\"\]\n]+)", text)
    if errno:
        return errno.group(1).strip().rstrip(".").lower()
    if "timed out" in text.lower() or isinstance(exc, ConnectionTimeout):
        return "timed out"
    if "ssl" in text.lower() or "certificate" in text.lower():
        return "TLS handshake failed"
    return _short(text, 120)


def check_reachable(client: Elasticsearch, url: str, timeout: float) -> None:
    """One quick request without retries, so that a stopped or unreachable cluster is reported
    at once ("cannot reach Elasticsearch at URL (connection refused)") rather than after the
    transport's retries and backoff. Any HTTP answer, even an error, means it is reachable."""
    try:
        client.options(max_retries=0, request_timeout=timeout).cluster.health()
    except (EsConnectionError, ConnectionTimeout) as exc:
        raise TransientIndexError(
            f"cannot reach Elasticsearch at {redact_url(url)} ({connection_reason(exc)})"
        ) from None
    except (ApiError, EsTransportError):
        pass  # it answered: authentication and the like are reported by the real request


def _api_error(exc: ApiError, what: str, where: str) -> IndexError_:
    if exc.status_code == 429 or exc.status_code >= 500:
        return TransientIndexError(
            f"Elasticsearch{where} kept answering {exc.status_code} while {what} "
            f"(after retries): {_api_reason(exc)}"
        )
    if isinstance(exc, NotFoundError) and _error_type(exc.body) == "index_not_found_exception":
        return IndexSetupError(f"index or alias missing{where} ({_api_reason(exc)}): {SETUP_HINT}")
    return IndexError_(f"Elasticsearch{where} error while {what}: {_api_reason(exc)}")


def _error_type(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("type", ""))
    return ""


def _api_reason(exc: ApiError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return error_reason(body["error"])
    return f"status {exc.status_code}: {exc.message}"


def error_reason(error: Any) -> str:
    """ES's error object as ``type: reason`` (+ the root cause's), e.g. for a rejected doc."""
    if not isinstance(error, dict):
        return _short(error)
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}".rstrip(": ")
    cause = error.get("caused_by")
    if isinstance(cause, dict) and cause.get("reason"):
        text += f" (caused by {cause.get('type', 'error')}: {cause['reason']})"
    return text


def _short(value: object, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


# --------------------------------------------------------------------------- search


def _check_facet_fields(names: Iterable[str], what: str) -> None:
    allowed = load_schema().facets
    for name in names:
        if name not in allowed:
            raise ValueError(
                f"unknown {what} field {name!r}; allowed: {', '.join(sorted(allowed))}"
            )


def _date_bound(value: str, upper: bool) -> dict[str, str]:
    """A range bound covering the whole year/month/day when the value is that precise."""
    key = "lte" if upper else "gte"
    precision = _DATE_PRECISION.get(len(value))
    if precision is None:
        return {key: value, "format": "strict_date_optional_time"}
    fmt, unit = precision
    # Date math rounding: gte rounds down to the unit's start, lte up to its last millisecond,
    # so "to 2025-03-14" includes that whole day, as a date-only bound means to a reader.
    return {key: f"{value}||/{unit}", "format": fmt}


def _date_value_filter(field: str, value: str) -> dict[str, Any]:
    low, high = _date_bound(value, upper=False), _date_bound(value, upper=True)
    return {"range": {field: {**low, **high}}}


def _filters(request: SearchRequest) -> list[dict[str, Any]]:
    schema = load_schema()
    _check_facet_fields(request.filters, "filter")
    clauses: list[dict[str, Any]] = []
    for name, values in request.filters.items():
        if not values:
            continue
        if schema.fields[name].is_date:
            # A date facet value ("2025", "2025-03", "2025-03-14") stands for that period.
            should = [_date_value_filter(name, v) for v in values]
            clauses.append({"bool": {"should": should, "minimum_should_match": 1}})
        else:
            clauses.append({"terms": {name: list(values)}})
    # One clause per bound: each may have its own precision (and so its own format).
    if request.published_from:
        clauses.append({"range": {"published": _date_bound(request.published_from, False)}})
    if request.published_to:
        clauses.append({"range": {"published": _date_bound(request.published_to, True)}})
    return clauses


def query_fields() -> list[str]:
    """Stemmed fields at their fields.json weights, unstemmed ``.exact`` ones at half weight."""
    fields = load_schema().text_fields
    stemmed = [f"{f.name}^{f.search_weight:g}" for f in fields]
    exact = [f"{f.name}.exact^{f.search_weight / 2:g}" for f in fields]
    return stemmed + exact


def _sqs_term(term: QueryTerm) -> str:
    if len(term.words) > 1:
        return '"' + " ".join(term.words) + '"'
    return term.words[0] + ("*" if term.prefix else "")


def to_simple_query(terms: list[list[QueryTerm]]) -> str:
    """Groups of ANDed terms, ORed (``parse_query``), in simple_query_string syntax: ``|``
    for OR (the word OR would be searched for), groups in parentheses when there are several."""
    rendered = [" ".join(_sqs_term(t) for t in group) for group in terms if group]
    if len(rendered) > 1:
        rendered = [f"({r})" if " " in r else r for r in rendered]
    return " | ".join(rendered)


def _text_query(query: str) -> dict[str, Any]:
    # simple_query_string, fed what parse_query made of the user's query (the syntax the
    # embedded index reads too): words (all required: default_operator AND), "quoted
    # phrases", prefix* and | between groups; only words reach it, never punctuation.
    return {
        "simple_query_string": {
            "query": query,
            "fields": query_fields(),
            "default_operator": "and",
            "flags": "AND|OR|NOT|PHRASE|PREFIX|PRECEDENCE|WHITESPACE|ESCAPE",
        }
    }


def _aggregations(request: SearchRequest) -> dict[str, Any]:
    _check_facet_fields(request.facets, "facet")
    aggs: dict[str, Any] = {}
    schema = load_schema()
    for name in request.facets:
        if schema.fields[name].is_date:
            # A date facet counts years (as the embedded index does), not timestamps.
            aggs[f"facet_{name}"] = _date_histogram(name, "year")
            continue
        aggs[f"facet_{name}"] = {
            "terms": {
                "field": name,
                "size": request.facet_size,
                "order": [{"_count": "desc"}, {"_key": "asc"}],
            }
        }
    if request.histogram:
        if request.histogram not in HISTOGRAM_FORMATS:
            raise ValueError(
                f"unknown histogram interval {request.histogram!r}; "
                f"allowed: {', '.join(HISTOGRAM_FORMATS)}"
            )
        aggs["histogram"] = _date_histogram("published", request.histogram)
    return aggs


def _date_histogram(field: str, interval: str) -> dict[str, Any]:
    return {
        "date_histogram": {
            "field": field,
            "calendar_interval": interval,
            "format": HISTOGRAM_FORMATS[interval],
            "min_doc_count": 1,
        }
    }


def _highlight() -> dict[str, Any]:
    fields = {f.name: f for f in load_schema().text_fields if f.highlight}
    spec: dict[str, Any] = {}
    for name in fields:
        # The whole title, highlighted; one fragment of the text for the snippet.
        spec[name] = (
            {"number_of_fragments": 0}
            if name == "title"
            else {"fragment_size": SNIPPET_CHARS, "number_of_fragments": 1}
        )
    return {"pre_tags": [HIGHLIGHT_PRE], "post_tags": [HIGHLIGHT_POST], "fields": spec}


def build_search_body(request: SearchRequest, timeout: float = 10.0) -> dict[str, Any]:
    """The _search body for a request (raises ValueError on unknown facet/filter fields);
    ``timeout``: seconds the search may take (``ARTICLE_ETL_SEARCH_TIMEOUT``)."""
    parsed = parse_query(request.query)
    query = to_simple_query(parsed.groups)
    bool_query: dict[str, Any] = {"filter": _filters(request)}
    bool_query["must"] = [_text_query(query)] if query else [{"match_all": {}}]
    if parsed.excluded:  # NOT x / -x: excluded whatever the rest of the query says
        bool_query["must_not"] = [_text_query(_sqs_term(t)) for t in parsed.excluded]
    body: dict[str, Any] = {
        "query": {"bool": bool_query},
        "size": request.size,
        "from": request.offset,
        "track_total_hits": True,
        "_source": HIT_SOURCE_FIELDS,
        "sort": _sort(bool(query)),
    }
    if math.isfinite(timeout):  # past it, shards stop: the answer says timed_out
        body["timeout"] = f"{max(1, round(timeout * 1000))}ms"
    if query:
        body["track_scores"] = True
        body["highlight"] = _highlight()
    aggs = _aggregations(request)
    if request.collapse:
        # One hit per story, the first in the sort order; inner_hits counts its matching
        # documents (hits.total, no hit fetched); the aggregations count the stories.
        body["collapse"] = {"field": STORY_FIELD, "inner_hits": {"name": STORY_HITS, "size": 0}}
        aggs["stories"] = {
            "cardinality": {"field": STORY_FIELD, "precision_threshold": STORY_COUNT_PRECISION}
        }
        aggs["stories_missing"] = {"missing": {"field": STORY_FIELD}}
    if aggs:
        body["aggs"] = aggs
    return body


def _sort(has_query: bool) -> list[Any]:
    newest = {"published": {"order": "desc", "missing": "_last"}}
    # Ties broken by id so pages are stable.
    return ["_score", newest, {"id": "asc"}] if has_query else [newest, {"id": "asc"}]


def _snippet(source: dict[str, Any], highlight: dict[str, list[str]]) -> str:
    for name in ("text", "title"):
        fragments = highlight.get(name) or []
        if fragments:
            return str(fragments[0])
    text = " ".join(str(source.get("text") or "").split())
    if len(text) <= SNIPPET_CHARS:
        return text
    return text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"


def _hit(raw: dict[str, Any]) -> Hit:
    source = raw.get("_source") or {}
    copies = (((raw.get("inner_hits") or {}).get(STORY_HITS) or {}).get("hits") or {}).get("total")
    return Hit(
        id=str(source.get("id") or raw.get("_id", "")),
        score=float(raw.get("_score") or 0.0),
        title=str(source.get("title") or ""),
        url=str(source.get("url") or ""),
        source=str(source.get("source") or ""),
        site=str(source.get("site") or ""),
        published=source.get("published"),
        language=str(source.get("language") or ""),
        snippet=_snippet(source, raw.get("highlight") or {}),
        story_cluster=str(source.get(STORY_FIELD) or "") or None,
        cluster_size=_total(copies) if copies is not None else None,
    )


def _total(value: Any) -> int:
    return int(value.get("value", 0)) if isinstance(value, dict) else int(value)


def _bucket_value(bucket: dict[str, Any]) -> str:
    return str(bucket.get("key_as_string", bucket.get("key")))


def parse_search_response(body: dict[str, Any], request: SearchRequest) -> SearchResult:
    """A _search response as the backend-independent ``SearchResult``."""
    hits = body.get("hits") or {}
    total = hits.get("total") or {}
    aggs = body.get("aggregations") or {}
    facets: dict[str, list[FacetValue]] = {}
    schema = load_schema()
    for name in request.facets:
        buckets = (aggs.get(f"facet_{name}") or {}).get("buckets") or []
        values = [FacetValue(_bucket_value(b), int(b["doc_count"])) for b in buckets]
        if schema.fields[name].is_date:  # years in order, the first facet_size of them
            facets[name] = [v for v in values if v.count > 0][: request.facet_size]
        else:
            facets[name] = sorted(values, key=lambda v: (-v.count, v.value))
    histogram = [
        FacetValue(_bucket_value(b), int(b["doc_count"]))
        for b in (aggs.get("histogram") or {}).get("buckets") or []
        if int(b["doc_count"]) > 0
    ]
    stories = None
    if request.collapse:
        # Documents without a story (indexed before stories existed) each count as one.
        stories = int((aggs.get("stories") or {}).get("value", 0)) + int(
            (aggs.get("stories_missing") or {}).get("doc_count", 0)
        )
    return SearchResult(
        total=_total(total),
        hits=[_hit(h) for h in hits.get("hits") or []],
        facets=facets,
        histogram=histogram,
        stories=stories,
    )


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
                if _error_type(exc.body) == "index_not_found_exception":
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
