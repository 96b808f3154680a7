"""Tests for etl.dates (pure functions, no Airflow, no network)."""

from __future__ import annotations

import time
from datetime import date, datetime

import pytest

from etl.dates import DateMention, normalise_mention, normalise_mentions

REF = date(2025, 12, 1)  # a Monday, ISO week 2025-W49


def _check(
    text: str,
    value: str,
    granularity: str,
    start: str,
    end: str,
    relative: bool,
    ref: date | None = REF,
) -> DateMention:
    m = normalise_mention(text, ref)
    assert m.resolved, m
    assert (m.value, m.granularity, m.start, m.end, m.relative) == (
        value,
        granularity,
        start,
        end,
        relative,
    ), m
    assert m.text == text
    return m


def _unresolved(text: str, note_part: str, ref: date | None = REF) -> DateMention:
    m = normalise_mention(text, ref)
    assert not m.resolved, m
    assert m.value is None and m.start is None and m.end is None
    assert m.granularity == "unknown"
    assert note_part in m.note, m
    return m


# --------------------------------------------------------------------------- required cases


def test_bare_year() -> None:
    _check("2014", "2014", "year", "2014-01-01", "2014-12-31", relative=False)


def test_bare_weekday_is_closest_day() -> None:
    _check("Thursday", "2025-12-04", "day", "2025-12-04", "2025-12-04", relative=True)


def test_this_fall() -> None:
    _check("this fall", "2025-FA", "season", "2025-09-01", "2025-11-30", relative=True)


@pytest.mark.parametrize("text", ["Later this week", "later this week", "this week"])
def test_this_week(text: str) -> None:
    _check(text, "2025-W49", "week", "2025-12-01", "2025-12-07", relative=True)


@pytest.mark.parametrize("text", ["March 3, 2025", "3 March 2025", "Mar. 3, 2025", "2025-03-03"])
def test_absolute_day(text: str) -> None:
    _check(text, "2025-03-03", "day", "2025-03-03", "2025-03-03", relative=False)


def test_last_year() -> None:
    _check("last year", "2024", "year", "2024-01-01", "2024-12-31", relative=True)


@pytest.mark.parametrize(
    "text", ["two weeks", "decades", "recent years", "every year", "annual", "daily", "24/7"]
)
def test_durations_and_frequencies(text: str) -> None:
    _unresolved(text, "duration or frequency")


@pytest.mark.parametrize(
    "text", ["Thursday", "last year", "this fall", "yesterday", "2 June", "two years ago"]
)
def test_relative_without_reference(text: str) -> None:
    m = _unresolved(text, "relative date without a publication date", ref=None)
    assert m.relative


def test_absolute_without_reference_still_resolves() -> None:
    _check("March 2025", "2025-03", "month", "2025-03-01", "2025-03-31", False, ref=None)


def test_decade() -> None:
    _check("the 1990s", "199X", "decade", "1990-01-01", "1999-12-31", relative=False)


@pytest.mark.parametrize("text", ["the day", "the year", "blah", "", "   "])
def test_garbage(text: str) -> None:
    m = normalise_mention(text, REF)
    assert not m.resolved and m.value is None and m.note


# --------------------------------------------------------------------------- relative rules


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Monday", "2025-12-01"),  # reference day itself
        ("Saturday", "2025-11-29"),  # 2 days back is closer than 5 ahead
        ("Wednesday", "2025-12-03"),
        ("last Monday", "2025-11-24"),
        ("last Thursday", "2025-11-27"),
        ("next Monday", "2025-12-08"),
        ("next Thursday", "2025-12-04"),
        ("Monday morning", "2025-12-01"),
        ("Friday night", "2025-11-28"),  # 3 days back is closer than 4 ahead
        ("yesterday", "2025-11-30"),
        ("last night", "2025-11-30"),
        ("today", "2025-12-01"),
        ("tomorrow", "2025-12-02"),
        ("three days ago", "2025-11-28"),
        ("2 June", "2025-06-02"),
        ("June 2", "2025-06-02"),
        ("Thursday, Dec. 4", "2025-12-04"),
    ],
)
def test_relative_days(text: str, expected: str) -> None:
    _check(text, expected, "day", expected, expected, relative=True)


@pytest.mark.parametrize(
    ("text", "value", "granularity", "start", "end"),
    [
        ("last week", "2025-W48", "week", "2025-11-24", "2025-11-30"),
        ("next week", "2025-W50", "week", "2025-12-08", "2025-12-14"),
        ("next month", "2026-01", "month", "2026-01-01", "2026-01-31"),
        ("last month", "2025-11", "month", "2025-11-01", "2025-11-30"),
        ("earlier this month", "2025-12", "month", "2025-12-01", "2025-12-31"),
        ("this year", "2025", "year", "2025-01-01", "2025-12-31"),
        ("two years ago", "2023", "year", "2023-01-01", "2023-12-31"),
        ("six months ago", "2025-06", "month", "2025-06-01", "2025-06-30"),
        ("the end of the year", "2025", "year", "2025-01-01", "2025-12-31"),
        ("late last year", "2024", "year", "2024-01-01", "2024-12-31"),
        ("this spring", "2025-SP", "season", "2025-03-01", "2025-05-31"),
        ("this winter", "2025-WI", "season", "2025-12-01", "2026-02-28"),
        ("last summer", "2025-SU", "season", "2025-06-01", "2025-08-31"),
        ("next spring", "2026-SP", "season", "2026-03-01", "2026-05-31"),
        ("this quarter", "2025-Q4", "quarter", "2025-10-01", "2025-12-31"),
        ("this weekend", "2025-W49-WE", "week", "2025-12-06", "2025-12-07"),
        ("last weekend", "2025-W48-WE", "week", "2025-11-29", "2025-11-30"),
        ("May", "2025-05", "month", "2025-05-01", "2025-05-31"),
        ("last March", "2025-03", "month", "2025-03-01", "2025-03-31"),
        ("the '90s", "199X", "decade", "1990-01-01", "1999-12-31"),
    ],
)
def test_relative_periods(text: str, value: str, granularity: str, start: str, end: str) -> None:
    _check(text, value, granularity, start, end, relative=True)


def test_modifier_is_noted() -> None:
    m = normalise_mention("the end of the year", REF)
    assert "approximate" in m.note


def test_winter_in_january_refers_to_current_winter() -> None:
    m = normalise_mention("this winter", date(2026, 1, 15))
    assert (m.value, m.start, m.end) == ("2025-WI", "2025-12-01", "2026-02-28")


def test_datetime_reference_accepted() -> None:
    m = normalise_mention("Thursday", datetime(2025, 12, 1, 23, 30))
    assert m.value == "2025-12-04"


# --------------------------------------------------------------------------- absolute forms


@pytest.mark.parametrize(
    ("text", "value", "granularity", "start", "end"),
    [
        ("in 2019", "2019", "year", "2019-01-01", "2019-12-31"),
        ("March 2025", "2025-03", "month", "2025-03-01", "2025-03-31"),
        ("Q3 2024", "2024-Q3", "quarter", "2024-07-01", "2024-09-30"),
        ("the third quarter of 2024", "2024-Q3", "quarter", "2024-07-01", "2024-09-30"),
        ("spring 2026", "2026-SP", "season", "2026-03-01", "2026-05-31"),
        ("winter 2024-25", "2024-WI", "season", "2024-12-01", "2025-02-28"),
        ("2024-25", "2024/2025", "year", "2024-01-01", "2025-12-31"),
        ("between 2020 and 2022", "2020/2022", "year", "2020-01-01", "2022-12-31"),
        ("the 20th century", "19", "century", "1900-01-01", "1999-12-31"),
        ("mid-1990s", "199X", "decade", "1990-01-01", "1999-12-31"),
        ("2025-11", "2025-11", "month", "2025-11-01", "2025-11-30"),
        ("13/04/2025", "2025-04-13", "day", "2025-04-13", "2025-04-13"),
        ("3 mars 2025", "2025-03-03", "day", "2025-03-03", "2025-03-03"),  # via dateparser
    ],
)
def test_absolute_periods(text: str, value: str, granularity: str, start: str, end: str) -> None:
    _check(text, value, granularity, start, end, relative=False)


# --------------------------------------------------------------------------- conservative refusals


@pytest.mark.parametrize(
    ("text", "note_part"),
    [
        ("the third quarter", "quarter without a year"),
        ("the past week", "rolling period"),
        ("the past two years", "rolling period"),
        ("the weekend", "which weekend"),
        ("next weekend", "which weekend"),
        ("2020 and 2021", "several dates"),
        ("the next day", "another event"),
        ("that year", "another event"),
        ("two days later", "another event"),
        ("a few years ago", "vague"),
        ("03/04/2025", "day/month order"),
        ("9/11", "without a year"),
        ("the 24th", "without a month"),
        ("winter 2025", "winter spans two years"),
        ("the 2000s", "decade or century"),
        ("the '20s", "century not stated"),
        ("fiscal 2024", "fiscal"),
        ("42 years old", "age"),
        ("Friday, March 3, 2025", "weekday does not match"),
        ("February 30, 2025", "invalid date"),
    ],
)
def test_conservative_refusals(text: str, note_part: str) -> None:
    _unresolved(text, note_part)


def test_normalise_mentions_preserves_order() -> None:
    texts = ["2014", "Thursday", "two weeks"]
    out = normalise_mentions(texts, REF)
    assert [m.text for m in out] == texts
    assert [m.resolved for m in out] == [True, True, False]


def test_mention_is_frozen() -> None:
    m = normalise_mention("2014", REF)
    with pytest.raises(AttributeError):
        m.value = "2015"  # type: ignore[misc]


def test_fifty_mentions_are_fast() -> None:
    texts = [
        "2014",
        "Thursday",
        "this fall",
        "Later this week",
        "last week",
        "next month",
        "March 3, 2025",
        "3 March 2025",
        "March 2025",
        "the 1990s",
        "last year",
        "this year",
        "two years ago",
        "yesterday",
        "today",
        "tomorrow",
        "Monday morning",
        "earlier this month",
        "in 2019",
        "the end of the year",
        "Q3 2024",
        "the third quarter",
        "spring 2026",
        "this spring",
        "recent years",
    ] * 2
    normalise_mentions(texts, REF)  # warm-up
    started = time.perf_counter()
    normalise_mentions(texts, date(2025, 12, 2))
    assert time.perf_counter() - started < 0.05
