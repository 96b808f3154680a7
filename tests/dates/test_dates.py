"""Dates as a reader of the index sees them: every date mention of a text with its span and its
TIMEX3 value, resolved against the publication date by the tense of its sentence; dates given
with the input validated; and, through the command line, a JSON Lines record end to end.

Most tests are pure (etl.dates, no model); the last ones run the real pipeline with spaCy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from etl.dates import (
    dateparser_adapter,
    mentions_in_text,
    normalise_mention,
    normalise_mentions,
    parse_published,
    parse_stated_day,
    parse_timestamp,
    sentence_tense,
    timestamps,
)
from etl.dates import normalise as normaliser
from etl.record import DateMention

REF = date(2025, 12, 1)  # a Monday, ISO week 2025-W49
MARCH_2013 = date(2013, 3, 22)  # a Friday, ISO week 2013-W12


def _check(
    text: str,
    value: str,
    granularity: str,
    start: str | None,
    end: str | None,
    relative: bool,
    ref: date | None = REF,
    tense: str = "",
) -> DateMention:
    m = normalise_mention(text, ref, tense)
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


def _in_text(text: str, ref: date | None = MARCH_2013) -> dict[str, list[DateMention]]:
    """Mentions of ``text`` at every occurrence of the phrases marked [[like this]]."""
    spans: list[tuple[int, int]] = []
    plain = ""
    rest = text
    while "[[" in rest:
        before, _, tail = rest.partition("[[")
        phrase, _, rest = tail.partition("]]")
        plain += before
        spans.append((len(plain), len(plain) + len(phrase)))
        plain += phrase
    plain += rest
    found: dict[str, list[DateMention]] = {}
    for m in mentions_in_text(plain, spans, ref):
        assert m.span is not None and plain[m.span[0] : m.span[1]] == m.text, m
        found.setdefault(m.text, []).append(m)
    return found


def _value(text: str, phrase: str, ref: date | None = MARCH_2013) -> str | None:
    (m,) = _in_text(text, ref)[phrase]
    return m.value


# --------------------------------------------------------------------------- spans


def test_every_mention_keeps_its_character_span() -> None:
    text = "Sales fell in August. On Friday the board met, and it meets again in August."
    first, friday, second = text.index("August"), text.index("Friday"), text.rindex("August")
    spans = [(first, first + 6), (friday, friday + 6), (second, second + 6)]
    mentions = mentions_in_text(text, spans, MARCH_2013)
    assert [m.span for m in mentions] == spans
    assert [text[s:e] for s, e in (m.span for m in mentions if m.span)] == [
        "August",
        "Friday",
        "August",
    ]


def test_a_phrase_with_two_years_gives_two_spans_inside_it() -> None:
    text = "Output doubled between 2009 and 2010 before the slump."
    start = text.index("between")
    (first, second) = mentions_in_text(text, [(start, start + len("between 2009 and 2010"))], None)
    assert (first.value, second.value) == ("2009", "2010")
    assert text[first.span[0] : first.span[1]] == "2009"  # type: ignore[index]
    assert text[second.span[0] : second.span[1]] == "2010"  # type: ignore[index]


# --------------------------------------------------------------------------- tense


def test_a_month_in_a_past_tense_sentence_is_the_most_recent_one() -> None:
    # The article is of March 2013: August in the past tense is August 2012, not the future.
    assert _value("Sales fell in [[August]], the company said.", "August") == "2012-08"


def test_a_month_in_a_future_tense_sentence_is_the_coming_one() -> None:
    assert _value("The new plant will open in [[August]].", "August") == "2013-08"
    assert _value("The plant is expected to open in [[August]].", "August") == "2013-08"
    assert _value("The council plans to vote in [[January]].", "January") == "2014-01"


def test_the_nearest_verb_decides_in_a_sentence_with_two_tenses() -> None:
    found = _in_text("The minister said on [[Friday]] the bridge will reopen in [[August]].")
    assert found["Friday"][0].value == "2013-03-22"  # "said on Friday": that day, past
    assert found["August"][0].value == "2013-08"  # "will reopen in August"


def test_a_month_without_a_verb_to_go_by_is_taken_as_past() -> None:
    assert normalise_mention("August", MARCH_2013).value == "2012-08"
    assert normalise_mention("March", MARCH_2013).value == "2013-03"  # the current month


def test_a_weekday_is_placed_by_the_tense() -> None:
    # 2013-03-22 is a Friday.
    assert _value("Officials met on [[Monday]] to discuss it.", "Monday") == "2013-03-18"
    assert _value("Officials will meet on [[Monday]].", "Monday") == "2013-03-25"
    assert _value("The union said on [[Friday]] it would strike.", "Friday") == "2013-03-22"
    assert _value("The union walked out [[last Friday]].", "last Friday") == "2013-03-15"
    assert _value("Talks resume [[next Friday]].", "next Friday") == "2013-03-29"


def test_a_season_or_holiday_is_placed_by_the_tense() -> None:
    assert _value("Prices rose over [[the summer]].", "the summer") == "2012-SU"
    assert _value("The festival will return in [[the summer]].", "the summer") == "2013-SU"
    assert _value("Shops reported weak sales at [[Christmas]].", "Christmas") == "2012-12-25"
    assert _value("Shops hope to do better at [[Christmas]].", "Christmas") == "2013-12-25"
    assert normalise_mention("Thanksgiving", MARCH_2013, "past").value == "2012-11-22"
    assert normalise_mention("Easter", MARCH_2013, "future").value == "2013-03-31"


def test_tense_from_spacy_tags() -> None:
    # (offset, word, Penn Treebank tag), as the enrichment passes spaCy's tokens.
    tokens = [(0, "Exports", "NNS"), (8, "climbed", "VBD"), (16, "in", "IN"), (19, "May", "NNP")]
    assert sentence_tense(tokens, 19, 22) == "past"
    future = [(0, "It", "PRP"), (3, "will", "MD"), (8, "open", "VB"), (13, "in", "IN")]
    assert sentence_tense([*future, (16, "May", "NNP")], 16, 19) == "future"
    present = [(0, "It", "PRP"), (3, "opens", "VBZ"), (9, "in", "IN"), (12, "May", "NNP")]
    assert sentence_tense(present, 12, 15) == "present"
    assert sentence_tense([(0, "May", "NNP")], 0, 3) == ""


# --------------------------------------------------------------------------- relative forms


@pytest.mark.parametrize(
    ("text", "value", "granularity", "start", "end"),
    [
        ("this week", "2013-W12", "week", "2013-03-18", "2013-03-24"),
        ("the end of the year", "2013", "year", "2013-01-01", "2013-12-31"),
        ("last summer", "2012-SU", "season", "2012-06-01", "2012-08-31"),
        ("early December", "2012-12", "month", "2012-12-01", "2012-12-31"),
        ("the first quarter", "2013-Q1", "quarter", "2013-01-01", "2013-03-31"),
        ("the fourth quarter", "2012-Q4", "quarter", "2012-10-01", "2012-12-31"),
        ("the first half", "2013-H1", "half", "2013-01-01", "2013-06-30"),
        ("two years ago", "2011", "year", "2011-01-01", "2011-12-31"),
        ("a decade ago", "200X", "decade", "2000-01-01", "2009-12-31"),
        ("the weekend", "2013-W11-WE", "week", "2013-03-16", "2013-03-17"),
    ],
)
def test_relative_forms_in_a_past_tense_article(
    text: str, value: str, granularity: str, start: str, end: str
) -> None:
    _check(text, value, granularity, start, end, relative=True, ref=MARCH_2013, tense="past")


def test_approximate_modifiers_keep_the_period_and_say_so() -> None:
    m = _check("mid-2015", "2015", "year", "2015-01-01", "2015-12-31", relative=False)
    assert "approximate" in m.note
    assert "approximate" in normalise_mention("the end of the year", REF).note


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Monday", "2025-12-01"),  # reference day itself
        ("Saturday", "2025-11-29"),  # without a tense: the closest
        ("Wednesday", "2025-12-03"),
        ("last Monday", "2025-11-24"),
        ("last Thursday", "2025-11-27"),
        ("next Monday", "2025-12-08"),
        ("next Thursday", "2025-12-04"),
        ("yesterday", "2025-11-30"),
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


def test_a_month_day_without_a_year_is_the_closest_or_by_tense() -> None:
    jan = date(2013, 1, 10)
    assert normalise_mention("Dec. 28", jan).value == "2012-12-28"  # closest, not Dec 2013
    assert normalise_mention("Dec. 28", jan, "future").value == "2013-12-28"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Friday night", "2025-11-28TNI"),
        ("this morning", "2025-12-01TMO"),
        ("last night", "2025-11-30TNI"),
        ("Monday afternoon", "2025-12-01TAF"),
    ],
)
def test_parts_of_a_day_use_timex3_suffixes(text: str, value: str) -> None:
    m = normalise_mention(text, REF)
    assert m.value == value and m.granularity == "day" and m.start == value[:10]


def test_winter_in_january_is_the_winter_that_began_in_december() -> None:
    m = normalise_mention("this winter", date(2026, 1, 15))
    assert (m.value, m.start, m.end) == ("2025-WI", "2025-12-01", "2026-02-28")


def test_datetime_reference_accepted() -> None:
    assert normalise_mention("Thursday", datetime(2025, 12, 1, 23, 30)).value == "2025-12-04"


@pytest.mark.parametrize(
    "text", ["Thursday", "last year", "this fall", "yesterday", "2 June", "two years ago"]
)
def test_relative_without_reference_is_unresolved(text: str) -> None:
    m = _unresolved(text, "relative date without a publication date", ref=None)
    assert m.relative


# --------------------------------------------------------------------------- absolute forms


@pytest.mark.parametrize(
    ("text", "value", "granularity", "start", "end"),
    [
        ("2014", "2014", "year", "2014-01-01", "2014-12-31"),
        ("in 2019", "2019", "year", "2019-01-01", "2019-12-31"),
        ("March 3, 2025", "2025-03-03", "day", "2025-03-03", "2025-03-03"),
        ("3 March 2025", "2025-03-03", "day", "2025-03-03", "2025-03-03"),
        ("Mar. 3, 2025", "2025-03-03", "day", "2025-03-03", "2025-03-03"),
        ("2025-03-03", "2025-03-03", "day", "2025-03-03", "2025-03-03"),
        ("13/04/2025", "2025-04-13", "day", "2025-04-13", "2025-04-13"),
        ("March 2025", "2025-03", "month", "2025-03-01", "2025-03-31"),
        ("2025-11", "2025-11", "month", "2025-11-01", "2025-11-30"),
        ("Q3 2024", "2024-Q3", "quarter", "2024-07-01", "2024-09-30"),
        ("the third quarter of 2024", "2024-Q3", "quarter", "2024-07-01", "2024-09-30"),
        ("the first half of 2012", "2012-H1", "half", "2012-01-01", "2012-06-30"),
        ("the summer of 2012", "2012-SU", "season", "2012-06-01", "2012-08-31"),
        ("winter 2024-25", "2024-WI", "season", "2024-12-01", "2025-02-28"),
        ("the 1990s", "199X", "decade", "1990-01-01", "1999-12-31"),
        ("the early 1990s", "199X", "decade", "1990-01-01", "1999-12-31"),
        ("the 20th century", "19", "century", "1900-01-01", "1999-12-31"),
        ("Christmas 2012", "2012-12-25", "day", "2012-12-25", "2012-12-25"),
        ("3 mars 2025", "2025-03-03", "day", "2025-03-03", "2025-03-03"),  # via dateparser
    ],
)
def test_absolute_forms(text: str, value: str, granularity: str, start: str, end: str) -> None:
    _check(text, value, granularity, start, end, relative=False, ref=None)


@pytest.mark.parametrize(
    ("text", "value", "granularity"),
    [
        ("fiscal 2013", "FY2013", "year"),
        ("fiscal year 2013", "FY2013", "year"),
        ("FY13", "FY2013", "year"),
        ("the first quarter of fiscal 2013", "FY2013-Q1", "quarter"),
    ],
)
def test_fiscal_years_have_a_timex3_value_but_no_calendar_dates(
    text: str, value: str, granularity: str
) -> None:
    m = normalise_mention(text, MARCH_2013)
    assert (m.value, m.granularity, m.start, m.end, m.resolved) == (
        value,
        granularity,
        None,
        None,
        True,
    )
    assert "organisation" in m.note


# --------------------------------------------------------------------------- several dates


@pytest.mark.parametrize(
    ("text", "values", "texts"),
    [
        ("2009/2010", ["2009", "2010"], ["2009", "2010"]),
        ("1991 to 1997", ["1991", "1997"], ["1991", "1997"]),
        ("from 1991 to 1997", ["1991", "1997"], ["1991", "1997"]),
        ("1957-58", ["1957", "1958"], ["1957", "58"]),
        ("2024-25", ["2024", "2025"], ["2024", "25"]),
        ("between 2020 and 2022", ["2020", "2022"], ["2020", "2022"]),
        ("2020 and 2021", ["2020", "2021"], ["2020", "2021"]),
        ("the 1980s and 1990s", ["198X", "199X"], ["the 1980s", "1990s"]),
        ("March and April 2012", ["2012-03", "2012-04"], ["March", "April 2012"]),
        ("March 3-5, 2012", ["2012-03-03", "2012-03-05"], ["March 3", "5, 2012"]),
    ],
)
def test_year_pairs_and_ranges_give_one_mention_per_date(
    text: str, values: list[str], texts: list[str]
) -> None:
    mentions = normalise_mentions([text], MARCH_2013)
    assert [m.value for m in mentions] == values
    assert [m.text for m in mentions] == texts
    for m in mentions:
        assert m.span is not None and text[m.span[0] : m.span[1]] == m.text


def test_one_phrase_naming_several_dates_alone_is_not_given_one_value() -> None:
    _unresolved("2009/2010", "several dates")


# --------------------------------------------------------------------------- TIMEX3 beyond ISO


@pytest.mark.parametrize(
    ("text", "value", "granularity"),
    [
        ("two weeks", "P2W", "duration"),
        ("18 months", "P18M", "duration"),
        ("several years", "PXY", "duration"),
        ("recent years", "PXY", "duration"),
        ("decades", "PXDE", "duration"),
        ("a year and a half", "P18M", "duration"),
        ("the past week", "P1W", "duration"),
        ("24 hours", "PT24H", "duration"),
        ("42 years old", "P42Y", "duration"),
        ("every year", "P1Y", "set"),
        ("annually", "P1Y", "set"),
        ("daily", "P1D", "set"),
        ("twice a week", "P1W", "set"),
        ("Mondays", "XXXX-WXX-1", "set"),
        ("now", "PRESENT_REF", "reference"),
        ("the past", "PAST_REF", "reference"),
        ("the future", "FUTURE_REF", "reference"),
    ],
)
def test_durations_sets_and_vague_references_use_timex3_values(
    text: str, value: str, granularity: str
) -> None:
    m = normalise_mention(text, REF)
    assert (m.value, m.granularity, m.resolved) == (value, granularity, True), m
    assert m.start is None and m.end is None  # not a calendar period: no range to filter on


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("text", "note_part"),
    [
        ("the weekend", "which weekend"),  # no tense to go by
        ("next weekend", "which weekend"),
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
        ("fiscal year", "without a year"),
        ("Friday, March 3, 2025", "weekday does not match"),
        ("February 30, 2025", "invalid date"),
        ("year-round", "duration or frequency"),
        ("the day", "vague"),
        ("blah", "unparsable"),
        ("", "unparsable"),
    ],
)
def test_what_cannot_be_resolved_keeps_its_text_and_says_why(text: str, note_part: str) -> None:
    _unresolved(text, note_part)


def test_mention_is_frozen() -> None:
    m = normalise_mention("2014", REF)
    with pytest.raises(AttributeError):
        m.value = "2015"  # type: ignore[misc]


# --------------------------------------------------------------------------- dateparser


@pytest.fixture
def dateparser_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The phrases dateparser is asked about, from a cold cache."""
    calls: list[str] = []
    real = dateparser_adapter.date_data_parser

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def get_date_data(self, text: str) -> Any:
            calls.append(text)
            return self.inner.get_date_data(text)

    monkeypatch.setattr(dateparser_adapter, "date_data_parser", lambda base: Counting(real(base)))
    dateparser_adapter.dateparser_fallback.cache_clear()
    normaliser.normalise_one.cache_clear()
    return calls


def test_common_forms_never_reach_dateparser_and_its_answers_are_cached(
    dateparser_calls: list[str],
) -> None:
    calls = dateparser_calls
    common = ["March 3, 2025", "2014", "last week", "the 1990s", "Q3 2024", "two weeks ago"]
    assert all(m.resolved for m in normalise_mentions(common, REF))
    assert calls == []
    for _ in range(3):
        normaliser.normalise_one.cache_clear()  # the phrase again, as in another article
        assert normalise_mention("3 mars 2025", REF).value == "2025-03-03"
    assert calls == ["3 mars 2025"]


def test_a_missing_dateparser_raises_instead_of_calling_everything_unparsable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_dateparser(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("dateparser"):
            raise ImportError("No module named 'dateparser'")
        return real_import(name, *args, **kwargs)

    dateparser_adapter.date_data_parser.cache_clear()
    dateparser_adapter.dateparser_fallback.cache_clear()
    normaliser.normalise_one.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_dateparser)
    try:
        with pytest.raises(RuntimeError, match="dateparser"):
            normalise_mention("4 abril 2024", REF)
    finally:
        monkeypatch.setattr(builtins, "__import__", real_import)
        dateparser_adapter.date_data_parser.cache_clear()
        normaliser.normalise_one.cache_clear()


def test_a_broken_dateparser_raises_instead_of_calling_everything_unparsable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Broken:
        def get_date_data(self, text: str) -> Any:
            raise AttributeError("'NoneType' object has no attribute 'search'")

    monkeypatch.setattr(dateparser_adapter, "date_data_parser", lambda base: Broken())
    dateparser_adapter.dateparser_fallback.cache_clear()
    normaliser.normalise_one.cache_clear()
    try:
        with pytest.raises(AttributeError):
            normalise_mention("5 abril 2024", REF)
    finally:
        dateparser_adapter.dateparser_fallback.cache_clear()
        normaliser.normalise_one.cache_clear()


# The common forms, labelled with the value dateparser gives them (a Wednesday as its relative
# base; it takes a weekday or a day without a year from the past): the project's rules must
# give the same value without asking it. (Not "last year": dateparser puts it on the 1st of
# the month a year back, more than a year from a reference after the 1st.)
DP_REF = date(2025, 12, 3)
FAST_PATH = [
    # (phrase, tense of its sentence, value)
    ("2024-03-03", "", "2024-03-03"),
    ("2024/03/03", "", "2024-03-03"),
    ("2024-03", "", "2024-03"),
    ("March 3, 2024", "", "2024-03-03"),
    ("March 3rd, 2024", "", "2024-03-03"),
    ("Mar. 3, 2024", "", "2024-03-03"),
    ("March 3 2024", "", "2024-03-03"),
    ("Sunday, March 3, 2024", "", "2024-03-03"),
    ("Nov. 30, 2008", "", "2008-11-30"),
    ("Dec. 1, 2025", "", "2025-12-01"),
    ("3 March 2024", "", "2024-03-03"),
    ("3rd March 2024", "", "2024-03-03"),
    ("the 3rd of March 2024", "", "2024-03-03"),
    ("30 November 2008", "", "2008-11-30"),
    ("1 Dec 2025", "", "2025-12-01"),
    ("March 2024", "", "2024-03"),
    ("Mar 2024", "", "2024-03"),
    ("March, 2024", "", "2024-03"),
    ("December", "", "2025-12"),
    ("2024", "", "2024"),
    ("in 2024", "", "2024"),
    ("March 3", "past", "2025-03-03"),
    ("3 March", "past", "2025-03-03"),
    ("Sept. 4", "", "2025-09-04"),
    ("Monday", "", "2025-12-01"),
    ("on Monday", "", "2025-12-01"),
    ("Tuesday", "", "2025-12-02"),
    ("Wednesday", "", "2025-12-03"),
    ("Friday", "past", "2025-11-28"),
    ("last Monday", "", "2025-12-01"),
    ("next Friday", "", "2025-12-05"),
    ("yesterday", "", "2025-12-02"),
    ("today", "", "2025-12-03"),
    ("tomorrow", "", "2025-12-04"),
    ("last week", "", "2025-W48"),
    ("this week", "", "2025-W49"),
    ("next week", "", "2025-W50"),
    ("last month", "", "2025-11"),
    ("this month", "", "2025-12"),
    ("next month", "", "2026-01"),
    ("this year", "", "2025"),
    ("next year", "", "2026"),
    ("2 days ago", "", "2025-12-01"),
    ("two days ago", "", "2025-12-01"),
    ("3 weeks ago", "", "2025-W46"),
    ("9 a.m.", "", "2025-12-03"),  # a clock time alone: the day of the reference
    ("9:30 a.m.", "", "2025-12-03"),
    ("11:45pm", "", "2025-12-03"),
]


@pytest.mark.parametrize(("phrase", "tense", "value"), FAST_PATH)
def test_common_forms_get_the_value_dateparser_gives_without_asking_it(
    dateparser_calls: list[str], phrase: str, tense: str, value: str
) -> None:
    calls = dateparser_calls
    assert normalise_mention(phrase, DP_REF, tense).value == value
    assert calls == []
    asked = dateparser_adapter.ask_dateparser(phrase, DP_REF)  # the label is dateparser's
    assert asked is not None and asked.value == value
    assert calls == [phrase]


def test_importing_and_common_forms_load_no_dateparser_and_compile_no_pattern() -> None:
    code = """
import re, sys
from datetime import date
compiled = []
real_compile = re.compile
def recording(*args, **kwargs):
    compiled.append(sys._getframe(1).f_code.co_filename)
    return real_compile(*args, **kwargs)
re.compile = recording
import etl.dates
assert not [f for f in compiled if "/etl/dates/" in f], compiled
assert "dateparser" not in sys.modules
etl.dates.normalise_mentions(["March 3, 2024", "yesterday", "last week", "2014"], date(2025, 12, 3))
assert "dateparser" not in sys.modules
etl.dates.normalise_mention("3 mars 2025", date(2025, 12, 3))
assert "dateparser" in sys.modules
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


STATED_DAYS = [
    ("4 June 2025", "2025-06-04"),
    ("June 4, 2025", "2025-06-04"),
    ("April 2, 2026", "2026-04-02"),
    ("2025-06-04", "2025-06-04"),
    ("Thu, 05 Jun 2025 09:42:00 GMT", "2025-06-05"),
]


@pytest.mark.parametrize(("line", "day"), STATED_DAYS)
def test_stated_dates_in_common_forms_are_read_without_dateparser(
    monkeypatch: pytest.MonkeyPatch, line: str, day: str
) -> None:
    asked: list[str] = []
    monkeypatch.setattr(timestamps, "strict_day", lambda text: asked.append(text))
    assert str(parse_stated_day(line)) == day
    assert asked == []
    dateparser_adapter.strict_day.cache_clear()
    assert str(dateparser_adapter.strict_day(line)) == day  # the label is dateparser's


@pytest.mark.parametrize(
    ("line", "day"),
    [
        ("4. Juni 2025", "2025-06-04"),
        ("le 4 juin 2025", "2025-06-04"),
        ("Thursday, 4 June 2025", "2025-06-04"),
    ],
)
def test_stated_dates_no_rule_knows_are_read_by_dateparser(line: str, day: str) -> None:
    assert str(parse_stated_day(line)) == day


def test_a_stated_line_without_a_full_date_gives_no_day() -> None:
    assert parse_stated_day("June 2025") is None
    assert parse_stated_day("last Tuesday") is None


# --------------------------------------------------------------------------- given dates


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2025-03-04", "2025-03-04"),
        ("2025-03", "2025-03"),
        ("2025", "2025"),
        ("March 4, 2025", "2025-03-04"),
        ("4 March 2025", "2025-03-04"),
        ("2025-03-04T10:00:00+01:00", "2025-03-04T10:00:00+01:00"),
        ("2025-03-04T23:30:00-05:00", "2025-03-04T23:30:00-05:00"),  # its own day, not UTC's
        ("2025-03-04T10:00:00Z", "2025-03-04T10:00:00+00:00"),
        ("2025-03-04 10:00", "2025-03-04"),  # a time without a zone: only its day is known
        ("Tue, 04 Mar 2025 10:00:00 +0100", "2025-03-04T10:00:00+01:00"),
    ],
)
def test_a_given_publication_date_is_normalised(given: str, stored: str) -> None:
    assert parse_published(given, today=date(2026, 1, 1)) == stored


@pytest.mark.parametrize(
    "given", ["soon", "yesterday", "03/04/2025", "2025-13-01", "2031-01-01", "1066-10-14", ""]
)
def test_a_given_publication_date_that_is_not_one_is_refused(given: str) -> None:
    assert parse_published(given, today=date(2026, 1, 1)) is None


def test_a_timestamp_keeps_the_day_where_it_was_published() -> None:
    stamp = parse_timestamp("2024-11-06T23:30:00-05:00")
    assert stamp is not None
    assert stamp.day == date(2024, 11, 6)  # 04:30 UTC on the 7th, but the 6th in New York
    assert stamp.iso == "2024-11-06T23:30:00-05:00"


# --------------------------------------------------------------------------- publication dates

BODY = (
    "The council voted to extend the tram line to the hospital after a two-year consultation. "
    "Construction will take three years and the line is expected to carry 12,000 passengers a "
    "day. Residents along the route raised concerns about noise, and the council promised "
    "quieter rails and a night-time ban on works."
)


def _page(
    *, head: str = "", byline: str = "", before: str = "", aside: str = "", title: str = "T"
) -> str:
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"{head}</head><body><header class='site-header'><a href='/'>The Courier</a>"
        f"<nav><a href='/news'>News</a></nav></header>{before}<main><article><h1>{title}</h1>"
        f"{byline}<p>{BODY}</p><p>{BODY}</p></article>{aside}</main>"
        "<footer class='site-footer'>About us</footer></body></html>"
    )


def _published(html: str, url: str = "https://courier.example/news/tram-extension") -> Any:
    from etl.extract import extract
    from etl.record import RawInput

    raw = RawInput(key="page.html", kind="file", data=html.encode(), media_type="html", url=url)
    article = extract(raw)
    return article


def _jsonld(obj: dict[str, Any]) -> str:
    return f'<script type="application/ld+json">{json.dumps(obj)}</script>'


def test_the_library_and_structured_data_agree_high_confidence_with_the_time_zone() -> None:
    stamp = "2024-02-13T07:15:00+01:00"
    head = f'<meta property="article:published_time" content="{stamp}">' + _jsonld(
        {"@type": "NewsArticle", "headline": "T", "datePublished": stamp}
    )
    article = _published(_page(head=head))
    assert article.published == stamp  # the offset kept
    assert (article.published_source, article.published_confidence) == (
        "structured_data",
        "high",
    )


def test_a_late_evening_stays_on_its_own_day() -> None:
    # 23:45 in New York is 03:45 UTC the next day: the page was published on the 4th.
    head = '<meta property="article:published_time" content="2023-07-04T23:45:00-04:00">'
    head += _jsonld({"@type": "NewsArticle", "datePublished": "2023-07-05T03:45:00Z"})
    assert _published(_page(head=head)).published == "2023-07-04T23:45:00-04:00"


def test_other_articles_in_json_ld_are_not_this_page() -> None:
    related = _jsonld(
        {
            "@type": "ItemList",
            "itemListElement": [
                {
                    "@type": "ListItem",
                    "item": {"@type": "NewsArticle", "datePublished": "2022-10-02"},
                }
            ],
        }
    )
    own = _jsonld({"@type": "NewsArticle", "datePublished": "2022-11-16T11:45:00+00:00"})
    assert _published(_page(head=related + own)).published == "2022-11-16T11:45:00+00:00"


def test_a_url_with_a_year_and_a_month_gives_the_month_not_an_invented_day() -> None:
    article = _published(_page(), url="https://valleypost.example/2015/01/library-hours/")
    assert (article.published, article.published_source) == ("2015-01", "url")
    dated = _published(
        _page(byline="<p class='byline'>By Tom Alder | January 14, 2015</p>"),
        url="https://valleypost.example/2015/01/flood-defences/",
    )
    assert dated.published == "2015-01-14"


def test_dates_in_sidebars_and_related_lists_are_not_the_article_date() -> None:
    aside = (
        "<aside class='related'><h3>Related stories</h3><ul>"
        "<li><a href='/a'>Reading groups draw record numbers</a> <span class='date'>"
        "December 3, 2014</span></li></ul></aside>"
    )
    undated = _published(_page(aside=aside))
    assert undated.published is None and "no_date" in undated.warning
    latest = (
        "<div class='latest-news'><h2>Latest</h2><ul><li><a href='/t'>Tram works extended</a>"
        " <span class='date'>March 9, 2021</span></li></ul></div>"
    )
    byline = "<p class='byline'>Published 3 March 2021 · Leah Osei</p>"
    assert _published(_page(before=latest, byline=byline)).published == "2021-03-03"


def test_an_ap_style_date_is_read_not_turned_into_new_year() -> None:
    # htmldate reads "Nov. 30, 2008" as 2008-01-01.
    byline = "<p class='byline'>By Alan Price, Nov. 30, 2008</p>"
    assert _published(_page(byline=byline)).published == "2008-11-30"


def test_a_page_without_any_date_is_undated() -> None:
    article = _published(_page())
    assert article.published is None
    assert article.published_source is None and article.published_confidence is None
    assert "no_date" in article.warning


def _markdown(tmp_path: Path, front: str) -> Any:
    from etl.extract import extract
    from etl.sources import read_file

    path = tmp_path / "post.md"
    path.write_text(f"---\ntitle: Ferry timetable changes\n{front}---\n\n{BODY}\n")
    (raw,) = list(read_file(path, 10_000_000))
    return extract(raw)


def test_a_front_matter_date_written_out_is_parsed(tmp_path: Path) -> None:
    article = _markdown(tmp_path, "date: March 4, 2025\n")
    assert (article.published, article.published_source) == ("2025-03-04", "input")
    assert article.published_confidence == "high"


def test_a_front_matter_date_that_is_not_one_is_ignored_with_a_warning(tmp_path: Path) -> None:
    article = _markdown(tmp_path, "published: soon\n")
    assert article.published is None  # never indexed as "soon"
    assert "invalid_published" in article.warning and "no_date" in article.warning


def test_metadata_of_a_json_lines_record_is_used_when_valid(tmp_path: Path) -> None:
    from etl.extract import extract
    from etl.sources import read_file

    path = tmp_path / "batch.jsonl"
    good = {
        "url": "https://news.example/a",
        "text": BODY,
        "title": "Tram line to reach the hospital",
        "author": ["Ann Writer", "Bo Reporter"],
        "language": "en",
        "published": "2024-05-02T08:00:00+02:00",
    }
    bad = {"url": "not a url", "text": BODY, "published": "soon", "author": 42}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    first, second = (extract(raw) for raw in read_file(path, 10_000_000))
    assert first.title == "Tram line to reach the hospital" and not first.title_derived
    assert first.author == ["Ann Writer", "Bo Reporter"]
    assert (first.published, first.published_source) == ("2024-05-02T08:00:00+02:00", "input")
    assert first.warning == [w for w in first.warning if not w.startswith("invalid")]
    assert second.published is None and second.url == "" and second.author == []
    assert {"invalid_published", "invalid_metadata", "no_date"} <= set(second.warning)


def test_a_changed_published_date_in_a_record_is_not_unchanged(tmp_path: Path) -> None:
    from etl.sources import read_file

    path = tmp_path / "batch.jsonl"
    path.write_text(json.dumps({"text": BODY, "published": "2024-05-02"}) + "\n")
    (before,) = read_file(path, 10_000_000)
    path.write_text(json.dumps({"text": BODY, "published": "2024-05-03"}) + "\n")
    (after,) = read_file(path, 10_000_000)
    assert before.raw_hash != after.raw_hash


def test_the_embedded_index_files_months_and_time_zones_under_their_own_dates(
    tmp_path: Path,
) -> None:
    from etl.backends.base import SearchRequest
    from etl.backends.sqlite.backend import SqliteBackend
    from etl.record import Article, make_id, text_fingerprint

    def article(title: str, published: str | None) -> Article:
        h = text_fingerprint(title)
        return Article(
            id=make_id("", h),
            source=f"/{title}",
            source_kind="file",
            raw_hash=h,
            text=f"{title}. {BODY}",
            content_hash=h,
            title=title,
            published=published,
        )

    index = SqliteBackend(tmp_path / "index.db")
    try:
        index.upsert(
            [
                article("Late vote", "2024-11-06T23:30:00-05:00"),  # 04:30 UTC on the 7th
                article("Library hours", "2015-01"),
                article("Club history", None),
            ]
        )
        on_the_6th = index.search(SearchRequest(filters={"published": ["2024-11-06"]}))
        assert [h.title for h in on_the_6th.hits] == ["Late vote"]
        january = index.search(SearchRequest(published_from="2015-01", published_to="2015-01"))
        assert [h.title for h in january.hits] == ["Library hours"]
        years = index.search(SearchRequest(histogram="year", facets=["published"]))
        assert {b.value: b.count for b in years.histogram} == {"2015": 1, "2024": 1}
        assert years.total == 3  # the undated article is found, and counted under no year
    finally:
        index.close()


# --------------------------------------------------------------------------- end to end


def _cli(args: list[str], index: Path) -> Any:
    from etl.cli.app import app

    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ARTICLE_ETL_")}
    env.update({"ARTICLE_ETL_INDEX": str(index), "ARTICLE_ETL_WORKERS": "1"})
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


FRIDAY_TEXT = (
    "Harbour authority reports record cargo\n\n"
    "The harbour authority said on Friday that cargo volumes reached a record in August, when "
    "the new container terminal opened its second berth. Dock workers handled more ships than "
    "in any month before, and the authority's chief executive credited the automated cranes "
    "installed during the previous winter. The authority will publish its annual report in "
    "June, and it expects the third berth to open next year."
)


def test_a_json_lines_record_through_the_command_line(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    lines = [
        {
            "url": "https://harbour.example/news/record-cargo",
            "text": FRIDAY_TEXT,
            "published": "2013-03-22",
        },
        {
            "url": "https://harbour.example/news/undated",
            "text": FRIDAY_TEXT.replace("cargo", "freight"),
        },
    ]
    records.write_text("\n".join(json.dumps(r) for r in lines) + "\n", encoding="utf-8")
    undated_file = tmp_path / "undated.txt"
    undated_file.write_text(FRIDAY_TEXT.replace("cargo", "tonnage"), encoding="utf-8")
    index = tmp_path / "index.db"
    report = _cli(["ingest", str(records), str(undated_file), "--json"], index)
    by_source = {Path(o["source"]).name: o["doc_id"] for o in report["outcomes"]}
    dated_id = by_source["records.jsonl#L1"]
    undated_ids = [by_source["records.jsonl#L2"], by_source["undated.txt"]]

    doc = _cli(["show", dated_id, "--json"], index)
    assert (doc["published"], doc["published_source"]) == ("2013-03-22", "input")
    mentions = {m["text"]: m for m in doc["date_mentions"]}
    # "said on Friday": the Friday of publication, 2013-03-22 (a Friday)
    assert mentions["Friday"]["value"] == "2013-03-22"
    # "reached a record in August" (past tense, March 2013): August 2012, not the future
    assert mentions["August"]["value"] == "2012-08"
    # "will publish its annual report in June": the coming June
    assert mentions["June"]["value"] == "2013-06"
    for m in doc["date_mentions"]:
        start, end = m["span"]
        assert doc["text"][start:end] == m["text"]

    for undated_id in undated_ids:  # a record without "published", a file without a date
        undated = _cli(["show", undated_id, "--json"], index)
        assert undated["published"] is None
        assert "no_date" in undated["warning"]
        assert undated["file_modified"]  # the file's time is kept, as what it is
