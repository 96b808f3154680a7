"""Search requests as Elasticsearch ``_search`` bodies, and its answers as ``SearchResult``.

The query syntax is the one both backends read (``etl.backends.base.parse_query``), rendered
as ``simple_query_string``; facets are terms aggregations (dates: yearly histograms).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from etl.backends.base import (
    STORY_FIELD,
    FacetValue,
    Hit,
    QueryTerm,
    SearchRequest,
    SearchResult,
    parse_query,
)
from etl.schema import load_schema

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
