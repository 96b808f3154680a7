"""Properties that hold for any input (hypothesis): the query parser and the date normaliser.

A modest number of examples each, so that the whole module runs in seconds; the fuzz targets in
tests/fuzz/ search much longer (not part of the default run)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.backends.base import (
    MAX_QUERY_CHARS,
    MAX_QUERY_TERMS,
    ParsedQuery,
    QueryTerm,
    QueryTooLarge,
    SearchRequest,
    parse_query,
)
from etl.backends.elasticsearch.query import build_search_body
from etl.backends.sqlite.search import fts_queries
from etl.dates import (
    mentions_in_text,
    normalise_mention,
    normalise_mentions,
    parse_published,
    parse_timestamp,
)
from etl.dates.timex import GRANULARITIES

SOME = settings(
    max_examples=150,
    deadline=None,
    database=None,  # nothing written to the work tree
    suppress_health_check=[HealthCheck.too_slow],
)

# --- the query parser ------------------------------------------------------------------------

SYNTAX = ["OR", "AND", "NOT", "-", '"', "*", "'s", "’s", "(", ")", ":", "^", "NEAR", "+"]
queries = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.one_of(st.sampled_from(SYNTAX), st.from_regex(r"\w{1,8}", fullmatch=True)),
        max_size=40,
    ).map(" ".join),
    st.lists(st.sampled_from([*SYNTAX, "port", "Rotterdam", "é", "x"]), max_size=40).map("".join),
)
plain_words = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_]{0,9}", fullmatch=True).filter(
    lambda w: w not in ("OR", "AND", "NOT")
)


@pytest.fixture(scope="module")
def fts() -> Iterator[sqlite3.Connection]:
    """A small FTS5 table with the embedded index's tokenizer."""
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE t USING fts5(title, text, "
        "tokenize = 'porter unicode61 remove_diacritics 2', prefix = '2 3')"
    )
    db.execute("INSERT INTO t VALUES ('Port strike', 'The dock workers of Rotterdam walked out')")
    yield db
    db.close()


def term_count(parsed: ParsedQuery) -> int:
    return sum(len(g) for g in parsed.groups) + len(parsed.excluded)


@SOME
@given(queries)
def test_any_text_parses_or_is_refused_as_too_large(query: str) -> None:
    try:
        parsed = parse_query(query)
    except QueryTooLarge as exc:
        too_long = len(query) > MAX_QUERY_CHARS
        assert str(exc).startswith("query too long" if too_long else "query has too many terms")
        return
    assert len(query) <= MAX_QUERY_CHARS
    assert term_count(parsed) <= MAX_QUERY_TERMS
    for term in [*(t for g in parsed.groups for t in g), *parsed.excluded]:
        assert term.words, term
        assert all(re.fullmatch(r"\w+", w) for w in term.words), term
        assert not term.prefix or len(term.words) == 1
    assert all(parsed.groups)  # no empty group


@SOME
@given(queries)
def test_both_backends_build_a_valid_query_from_any_text(
    fts: sqlite3.Connection, query: str
) -> None:
    """What the embedded index sends FTS5 is valid FTS5 syntax, whatever the user typed."""
    try:
        match, exclude = fts_queries(query)
    except QueryTooLarge:
        return
    for expression in (match, exclude):
        if expression:
            fts.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,)).fetchall()
    build_search_body(SearchRequest(query=query))


@SOME
@given(st.lists(plain_words, min_size=1, max_size=MAX_QUERY_TERMS))
def test_plain_words_are_anded(words: list[str]) -> None:
    query = " ".join(words)
    if len(query) > MAX_QUERY_CHARS:
        return
    assert parse_query(query) == ParsedQuery(groups=[[QueryTerm((w,)) for w in words]])


terms = st.one_of(
    plain_words.map(lambda w: QueryTerm((w,))),
    plain_words.map(lambda w: QueryTerm((w,), prefix=True)),
    st.lists(plain_words, min_size=2, max_size=4).map(lambda ws: QueryTerm(tuple(ws))),
)


def written(term: QueryTerm) -> str:
    if len(term.words) > 1:
        return '"' + " ".join(term.words) + '"'
    return term.words[0] + ("*" if term.prefix else "")


@SOME
@given(
    st.lists(st.lists(terms, min_size=1, max_size=4), min_size=1, max_size=4),
    st.lists(terms, max_size=3),
    st.booleans(),
)
def test_a_query_written_from_its_parts_parses_back_to_them(
    groups: list[list[QueryTerm]], excluded: list[QueryTerm], with_not: bool
) -> None:
    query = " OR ".join(" ".join(written(t) for t in group) for group in groups)
    query += "".join((" NOT " if with_not else " -") + written(t) for t in excluded)
    expected = ParsedQuery(groups=groups, excluded=excluded)
    too_large = len(query) > MAX_QUERY_CHARS or term_count(expected) > MAX_QUERY_TERMS
    assert parsed_or_refused(query) == (QueryTooLarge if too_large else expected)


def parsed_or_refused(query: str) -> ParsedQuery | type[QueryTooLarge]:
    """What ``parse_query`` gives for ``query``: the parsed query, or the refusal it raises."""
    try:
        return parse_query(query)
    except QueryTooLarge:
        return QueryTooLarge


# --- the date normaliser ---------------------------------------------------------------------

DATE_WORDS = [
    "last",
    "next",
    "this",
    "the",
    "early",
    "late",
    "mid",
    "ago",
    "on",
    "in",
    "by",
    "since",
    "Monday",
    "Friday",
    "weekend",
    "March",
    "Sept.",
    "May",
    "fall",
    "winter",
    "Christmas",
    "Easter",
    "Q3",
    "H1",
    "fiscal",
    "FY2024",
    "1990s",
    "19th",
    "century",
    "year",
    "years",
    "month",
    "weeks",
    "days",
    "3",
    "31",
    "2024",
    "2009/2010",
    "10/12/2023",
    "2023-02-30",
    "every",
    "daily",
    "quarter",
    "half",
    "tomorrow",
    "yesterday",
    "today",
    "night",
    "-",
    "–",
    "/",
    ",",
    "and",
    "to",
]
mention_texts = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(DATE_WORDS), min_size=1, max_size=7).map(" ".join),
)
references = st.one_of(
    st.none(),
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
)
tenses = st.sampled_from(["past", "present", "future", ""])


def check(mention_text: str, mention: object) -> None:
    from etl.record import DateMention

    assert isinstance(mention, DateMention)
    assert mention.granularity in GRANULARITIES
    # resolved: a value; unresolved: no value and no period
    assert not mention.resolved or mention.value
    assert mention.resolved or (mention.value, mention.start, mention.end) == (None, None, None)
    # a period has both ends, the start first
    assert (mention.start is None) == (mention.end is None), (mention.start, mention.end)
    period = [date.fromisoformat(d) for d in (mention.start, mention.end) if d is not None]
    assert period == sorted(period)


@SOME
@given(mention_texts, references, tenses)
def test_normalise_mention_never_raises_and_a_resolved_period_starts_before_it_ends(
    text: str, reference: date | None, tense: str
) -> None:
    check(text, normalise_mention(text, reference, tense))


@SOME
@given(mention_texts, references, tenses)
def test_normalise_mentions_spans_lie_within_the_phrase(
    text: str, reference: date | None, tense: str
) -> None:
    for mention in normalise_mentions([text], reference, tense):
        check(text, mention)
        assert mention.span is not None
        start, end = mention.span
        assert 0 <= start <= end <= len(text)


@st.composite
def texts_with_spans(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]]]:
    parts = draw(st.lists(st.one_of(mention_texts, st.just(". ")), min_size=1, max_size=8))
    text = " ".join(parts)
    bounds = st.integers(min_value=0, max_value=len(text))
    spans = draw(st.lists(st.tuples(bounds, bounds), max_size=5))
    return text, [(min(a, b), max(a, b)) for a, b in spans if a != b]


@SOME
@given(texts_with_spans(), references)
def test_mentions_in_text_spans_lie_within_the_text(
    found: tuple[str, list[tuple[int, int]]], reference: date | None
) -> None:
    text, spans = found
    for mention in mentions_in_text(text, spans, reference):
        check(text, mention)
        assert mention.span is not None
        start, end = mention.span
        assert 0 <= start <= end <= len(text)


stamps = st.one_of(
    st.text(max_size=70),
    st.datetimes(min_value=datetime(1, 1, 1)).map(lambda d: d.isoformat()),
    st.lists(st.sampled_from([*DATE_WORDS, "GMT", "Z", "+05:30", "T", ":", "00"]), max_size=8).map(
        " ".join
    ),
)


@SOME
@given(stamps)
def test_parse_timestamp_never_raises(value: str) -> None:
    stamp = parse_timestamp(value)
    assert stamp is None or stamp.iso.startswith(stamp.day.isoformat())


@SOME
@given(st.one_of(stamps, st.integers(), st.none(), st.lists(st.text(max_size=5))))
def test_parse_published_never_raises_and_keeps_to_its_bounds(value: object) -> None:
    today = date(2026, 1, 15)
    published = parse_published(value, today=today)
    # None, or a year, month or day from 1800 to tomorrow
    assert published is None or re.match(r"^\d{4}(-\d{2}(-\d{2})?)?", published)
    assert "1800" <= (published or "1800")[:10] <= "2026-01-16"
