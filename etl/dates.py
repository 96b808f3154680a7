"""Normalise date mentions (spaCy DATE entities) to ISO values with a granularity.

Relative mentions are resolved against the article's publication date (``reference``).
The module is deliberately conservative: anything ambiguous is returned with
``resolved=False`` and a ``note`` saying why, rather than a guessed date.

Value conventions (TIMEX3-like):

======== =====================  ==========================================
day      ``2025-11-27``
week     ``2025-W48``            ISO week; a weekend is ``2025-W48-WE``
month    ``2025-11``
season   ``2025-FA``             SP Mar-May, SU Jun-Aug, FA Sep-Nov,
                                 WI Dec-Feb (winter ``2025-WI`` = Dec 2025 - Feb 2026)
quarter  ``2025-Q3``             calendar quarters
year     ``2014``                a span of years is ``2024/2025``
decade   ``199X``
century  ``19``                  the 20th century; start/end use 1900-1999
======== =====================  ==========================================

Rules for relative expressions (``ref`` = publication date):

* bare weekday ("Thursday", "this Thursday") = the closest such day to ``ref``
  (``ref`` itself if it is that weekday; ties are impossible);
  "last Thursday" = the most recent one strictly before ``ref``;
  "next Thursday" = the first one strictly after ``ref``.
* "this/later this/earlier this week" = ISO week of ``ref``; "last week" /
  "next week" = the previous / following ISO week.  Same for month, quarter, year.
* "this fall" (also bare "fall", "the summer") = that season in ``ref``'s year
  (winter mentioned in Jan/Feb = the winter that started the previous December);
  "last fall" = the most recent one that ended before ``ref``; "next fall" = the
  first one that starts after ``ref``.
* month/day without a year ("2 June", "March") take ``ref``'s year.
* "N days/weeks/months/years ago" count back from ``ref``.
* "early/late/mid/the end of X" resolve to X (the containing period) with a note.
* Durations, frequencies, ages, rolling windows ("the past week"), vague or
  anaphoric expressions ("the next day", "that year") are never resolved.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

__all__ = ["DateMention", "normalise_mention", "normalise_mentions"]

GRANULARITIES = frozenset(
    {"day", "week", "month", "season", "quarter", "year", "decade", "century", "unknown"}
)

NOTE_NO_REF = "relative date without a publication date"
NOTE_DURATION = "duration or frequency, not a date"
NOTE_UNPARSABLE = "unparsable"
NOTE_VAGUE = "vague, not a specific date"
NOTE_ANAPHORIC = "relative to another event in the text, not to the publication date"
NOTE_ROLLING = "rolling period relative to the publication date, not a calendar unit"
NOTE_MULTIPLE = "several dates in one mention"
NOTE_AGE = "age, not a date"


@dataclass(frozen=True, slots=True)
class DateMention:
    text: str  # the mention as written, e.g. "this fall"
    value: str | None  # ISO/TIMEX3-like value, see module docstring
    granularity: str  # one of GRANULARITIES
    start: str | None  # ISO date of the first day the mention covers
    end: str | None  # ISO date of the last day it covers
    relative: bool  # True when resolved against the reference date
    resolved: bool  # False when it could not be resolved; value/start/end are then None
    note: str = ""  # why unresolved, or a caveat about a resolved value


# --------------------------------------------------------------------------- builders


def _unresolved(text: str, note: str, relative: bool = False) -> DateMention:
    return DateMention(text, None, "unknown", None, None, relative, False, note)


def _no_ref(text: str) -> DateMention:
    return _unresolved(text, NOTE_NO_REF, relative=True)


def _span(
    text: str,
    value: str,
    granularity: str,
    start: date,
    end: date,
    relative: bool,
    note: str = "",
) -> DateMention:
    return DateMention(
        text, value, granularity, start.isoformat(), end.isoformat(), relative, True, note
    )


def _day(text: str, d: date, relative: bool, note: str = "") -> DateMention:
    return _span(text, d.isoformat(), "day", d, d, relative, note)


def _week(text: str, d: date, relative: bool, note: str = "") -> DateMention:
    iso_year, week, weekday = d.isocalendar()
    monday = d - timedelta(days=weekday - 1)
    return _span(
        text, f"{iso_year}-W{week:02d}", "week", monday, monday + timedelta(days=6), relative, note
    )


def _weekend(text: str, d: date, relative: bool) -> DateMention:
    iso_year, week, weekday = d.isocalendar()
    saturday = d + timedelta(days=6 - weekday)
    return _span(
        text,
        f"{iso_year}-W{week:02d}-WE",
        "week",
        saturday,
        saturday + timedelta(days=1),
        relative,
        "weekend",
    )


def _month(text: str, year: int, month: int, relative: bool, note: str = "") -> DateMention:
    last = calendar.monthrange(year, month)[1]
    return _span(
        text,
        f"{year:04d}-{month:02d}",
        "month",
        date(year, month, 1),
        date(year, month, last),
        relative,
        note,
    )


_SEASON_CODES = {"spring": "SP", "summer": "SU", "fall": "FA", "autumn": "FA", "winter": "WI"}
_SEASON_START_MONTH = {"SP": 3, "SU": 6, "FA": 9, "WI": 12}


def _season_bounds(year: int, code: str) -> tuple[date, date]:
    if code == "WI":
        return date(year, 12, 1), date(year + 1, 3, 1) - timedelta(days=1)
    first = _SEASON_START_MONTH[code]
    return date(year, first, 1), date(year, first + 3, 1) - timedelta(days=1)


def _season(text: str, year: int, code: str, relative: bool, note: str = "") -> DateMention:
    start, end = _season_bounds(year, code)
    return _span(text, f"{year:04d}-{code}", "season", start, end, relative, note)


def _quarter(text: str, year: int, q: int, relative: bool, note: str = "") -> DateMention:
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return _span(
        text, f"{year:04d}-Q{q}", "quarter", start, end - timedelta(days=1), relative, note
    )


def _year(text: str, year: int, relative: bool, note: str = "") -> DateMention:
    return _span(text, f"{year:04d}", "year", date(year, 1, 1), date(year, 12, 31), relative, note)


def _decade(text: str, first_year: int, relative: bool, note: str = "") -> DateMention:
    return _span(
        text,
        f"{first_year // 10:03d}X",
        "decade",
        date(first_year, 1, 1),
        date(first_year + 9, 12, 31),
        relative,
        note,
    )


def _century(text: str, ordinal: int, relative: bool, note: str = "") -> DateMention:
    first = (ordinal - 1) * 100
    return _span(
        text,
        f"{ordinal - 1:02d}",
        "century",
        date(max(first, 1), 1, 1),
        date(first + 99, 12, 31),
        relative,
        note or "start/end use the popular convention (e.g. 1900-1999)",
    )


# --------------------------------------------------------------------------- vocabulary

_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
}
_NUM = r"(\d{1,3}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"

_MONTHS = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH = r"(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"

_WEEKDAYS = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
    "mon": 0,
    "tue": 1,
    "tues": 1,
    "wed": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
}
_WEEKDAY = r"(" + "|".join(sorted(_WEEKDAYS, key=len, reverse=True)) + r")\.?"
_PART_OF_DAY = r"(?:\s+(?:morning|afternoon|evening|night|noon|midday|lunchtime|overnight))?"

_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "twenty-first": 21,
    "twenty first": 21,
    "twenty-second": 22,
}
_ORDINAL = (
    r"(\d{1,2}(?:st|nd|rd|th)|"
    + "|".join(sorted((re.escape(k) for k in _ORDINALS), key=len, reverse=True))
    + r")"
)

_DECADE_WORDS = {
    "twenties": 2,
    "thirties": 3,
    "forties": 4,
    "fifties": 5,
    "sixties": 6,
    "seventies": 7,
    "eighties": 8,
    "nineties": 9,
}


def _num(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBER_WORDS[token]


def _ordinal(token: str) -> int:
    if token[0].isdigit():
        return int(token[:-2])
    return _ORDINALS[token]


# --------------------------------------------------------------------------- text cleanup

_LEADING = re.compile(
    r"^(?:in|on|at|during|throughout|of|over|for|within|"
    r"by|since|until|till|through|before|after|as of|as early as|as late as|"
    r"as recently as|no later than|not until|sometime in|some time in|"
    r"around|about|circa|c\.|approximately|roughly)\s+"
)
_BOUNDARY = frozenset(
    {"by", "since", "until", "till", "through", "before", "after", "no later than", "not until"}
)
_APPROX = frozenset({"around", "about", "circa", "c.", "approximately", "roughly"})


_ABBREV_END = re.compile(r"\b(?:c|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.$")


def _clean(text: str) -> tuple[str, str]:
    """Lower-case and normalise ``text``; return it and a note about stripped words."""
    t = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    t = re.sub(r"[\u2010-\u2015\u2212]", "-", t)
    t = re.sub(r"\s+", " ", t).strip()
    t = t.strip(' "“”()[]{}!?;:,')
    if not _ABBREV_END.search(t):
        t = t.rstrip(".")
    t = re.sub(r"(?<!\d)'s$", "", t).strip()
    notes: list[str] = []
    while True:
        m = _LEADING.match(t)
        if not m:
            break
        word = m.group(0).strip()
        if word in _BOUNDARY:
            notes.append(f"boundary '{word}' not represented")
        elif word in _APPROX:
            notes.append("approximate")
        t = t[m.end() :]
    return t, "; ".join(notes)


# --------------------------------------------------------------------------- rules

Rule = Callable[[str, str, date | None], DateMention | None]


def _rule_multiple(t: str, text: str, ref: date | None) -> DateMention | None:
    if t.startswith("between "):
        return None
    if re.search(r"\b(?:and|or)\b|&", t):
        return _unresolved(text, NOTE_MULTIPLE)
    return None


_FREQ = re.compile(
    r"\b(?:every|each|per|annual|annually|daily|weekly|monthly|yearly|quarterly|nightly|"
    r"hourly|biweekly|bimonthly|biannual|biannually|semiannual|semiannually|fortnightly|"
    r"once|twice|thrice|times|year-round|round-the-clock|perennial|seasonal|seasonally|"
    r"all (?:day|night|week|month|year)|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)days|weekdays|weekends)\b|24/7"
)
_AGE = re.compile(
    r"\b(?:years?|months?|weeks?|days?)[- ]old\b|\bage of\b|\baged\b|-year-old|\bbirthday\b"
)


def _rule_frequency(t: str, text: str, ref: date | None) -> DateMention | None:
    if _AGE.search(t):
        return _unresolved(text, NOTE_AGE)
    if _FREQ.search(t):
        return _unresolved(text, NOTE_DURATION)
    return None


_NUMERIC_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_NUMERIC_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})$")
_NUMERIC_SHORT = re.compile(r"^\d{1,2}[/.]\d{1,2}$")
_YEAR_DASH = re.compile(r"^(\d{4})-(\d{2})$")


def _rule_numeric(t: str, text: str, ref: date | None) -> DateMention | None:
    if m := _NUMERIC_ISO.match(t):
        return _safe_day(text, int(m[1]), int(m[2]), int(m[3]), relative=False)
    if m := _NUMERIC_DMY.match(t):
        a, b, y = int(m[1]), int(m[2]), m[3]
        if len(y) == 2:
            return _unresolved(text, "ambiguous: two-digit year")
        if a <= 12 and b <= 12 and a != b:
            return _unresolved(text, "ambiguous: day/month order")
        day, month = (a, b) if a > 12 else (b, a)
        return _safe_day(text, int(y), month, day, relative=False)
    if _NUMERIC_SHORT.match(t):
        return _unresolved(text, "ambiguous: numeric date without a year")
    if m := _YEAR_DASH.match(t):
        y, tail = int(m[1]), int(m[2])
        if tail == (y + 1) % 100:
            return _year_range(text, y, y + 1)
        if 1 <= tail <= 12:
            return _month(text, y, tail, relative=False)
        if tail > y % 100:
            return _year_range(text, y, y - y % 100 + tail)
        return _unresolved(text, NOTE_UNPARSABLE)
    return None


def _safe_day(text: str, y: int, m: int, d: int, relative: bool, note: str = "") -> DateMention:
    try:
        return _day(text, date(y, m, d), relative, note)
    except ValueError:
        return _unresolved(text, "invalid date")


def _year_range(text: str, a: int, b: int) -> DateMention:
    if not 1000 <= a < b <= 2999:
        return _unresolved(text, NOTE_UNPARSABLE)
    return _span(
        text,
        f"{a}/{b}",
        "year",
        date(a, 1, 1),
        date(b, 12, 31),
        relative=False,
        note="span of years",
    )


_RANGE = re.compile(
    r"^(?:from |between )?(?:the years? )?(\d{4})\s*(?:-|/|to|through|until|and)\s*(\d{2}|\d{4})$"
)


def _rule_year_range(t: str, text: str, ref: date | None) -> DateMention | None:
    m = _RANGE.match(t)
    if not m:
        return None
    a, tail = int(m[1]), m[2]
    b = int(tail) if len(tail) == 4 else a - a % 100 + int(tail)
    if " and " in t and not t.startswith("between"):
        return _unresolved(text, NOTE_MULTIPLE)
    return _year_range(text, a, b)


def _rule_fiscal(t: str, text: str, ref: date | None) -> DateMention | None:
    if re.search(r"\bfiscal\b|\bfy\s?'?\d", t):
        return _unresolved(text, "fiscal period: dates depend on the organisation")
    return None


_QUARTER_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "4th": 4,
}
_QUARTER = re.compile(
    r"^(?:the )?(?:q([1-4])|(first|second|third|fourth|1st|2nd|3rd|4th)[- ]quarter)"
    r"(?:,? (?:of )?(\d{4}))?$"
)
_QUARTER_YEAR_FIRST = re.compile(r"^(\d{4}) q([1-4])$")


def _rule_quarter(t: str, text: str, ref: date | None) -> DateMention | None:
    note = "calendar quarter assumed"
    if m := _QUARTER_YEAR_FIRST.match(t):
        return _quarter(text, int(m[1]), int(m[2]), relative=False, note=note)
    m = _QUARTER.match(t)
    if not m:
        return None
    q = int(m[1]) if m[1] else _QUARTER_WORDS[m[2]]
    if not m[3]:
        return _unresolved(text, "ambiguous: quarter without a year")
    return _quarter(text, int(m[3]), q, relative=False, note=note)


_SEASON = r"(spring|summer|fall|autumn|winter)"
_SEASON_EXPLICIT = re.compile(
    r"^(?:the )?" + _SEASON + r"(?: of)? (\d{4})(?:\s*[-/]\s*(\d{2}|\d{4}))?$"
)
_SEASON_RELATIVE = re.compile(
    r"^(?:(this|last|next|the|this past|this coming|the past|the coming|past|coming) )?"
    + _SEASON
    + r"(?: season)?$"
)


def _rule_season(t: str, text: str, ref: date | None) -> DateMention | None:
    if m := _SEASON_EXPLICIT.match(t):
        code, year = _SEASON_CODES[m[1]], int(m[2])
        if m[3]:
            second = int(m[3]) if len(m[3]) == 4 else year - year % 100 + int(m[3])
            if code != "WI" or second != year + 1:
                return _unresolved(text, NOTE_UNPARSABLE)
            return _season(text, year, code, relative=False)
        if code == "WI":
            return _unresolved(text, "ambiguous: winter spans two years")
        return _season(text, year, code, relative=False)
    m = _SEASON_RELATIVE.match(t)
    if not m:
        return None
    if ref is None:
        return _no_ref(text)
    code, which = _SEASON_CODES[m[2]], m[1] or "this"
    if which in ("this", "the"):
        year = ref.year - 1 if code == "WI" and ref.month <= 2 else ref.year
        return _season(text, year, code, relative=True)
    if which in ("last", "this past", "the past", "past"):
        year = ref.year
        while _season_bounds(year, code)[1] >= ref:
            year -= 1
        return _season(text, year, code, relative=True)
    year = ref.year - 1
    while _season_bounds(year, code)[0] <= ref:
        year += 1
    return _season(text, year, code, relative=True)


_DECADE = re.compile(r"^(?:the )?(\d{3})0'?s$")
_DECADE_SHORT = re.compile(r"^(?:the )?(?:'|‘)?([1-9])0'?s$")
_DECADE_WORD = re.compile(r"^(?:the )?(" + "|".join(_DECADE_WORDS) + r")$")
_CENTURY = re.compile(r"^(?:the )?" + _ORDINAL + r"[- ]century$")
_CENTURY_RELATIVE = re.compile(r"^(this|last|next|the current) century$")


def _rule_decade_century(t: str, text: str, ref: date | None) -> DateMention | None:
    if m := _DECADE.match(t):
        first = int(m[1]) * 10
        if first % 100 == 0:
            return _unresolved(text, "ambiguous: decade or century")
        if first < 1000:
            return _unresolved(text, NOTE_UNPARSABLE)
        return _decade(text, first, relative=False)
    tens: int | None = None
    if m := _DECADE_SHORT.match(t):
        tens = int(m[1])
    elif m := _DECADE_WORD.match(t):
        tens = _DECADE_WORDS[m[1]]
    if tens is not None:
        if ref is None:
            return _no_ref(text)
        first = ref.year - ref.year % 100 + tens * 10
        if first > ref.year:
            first -= 100
        if first <= ref.year <= first + 9:
            return _unresolved(text, "ambiguous: century not stated", relative=True)
        return _decade(text, first, relative=True, note="century inferred from publication date")
    if m := _CENTURY.match(t):
        n = _ordinal(m[1])
        if not 2 <= n <= 30:
            return _unresolved(text, NOTE_UNPARSABLE)
        return _century(text, n, relative=False)
    if m := _CENTURY_RELATIVE.match(t):
        if ref is None:
            return _no_ref(text)
        offset = {"this": 0, "the current": 0, "last": -1, "next": 1}[m[1]]
        return _century(text, ref.year // 100 + 1 + offset, relative=True)
    if t == "this decade" or t == "the current decade":
        if ref is None:
            return _no_ref(text)
        return _decade(text, ref.year - ref.year % 10, relative=True)
    return None


_YEAR = re.compile(r"^(?:the )?(?:(?:calendar )?year )?(\d{4})$")


def _rule_year(t: str, text: str, ref: date | None) -> DateMention | None:
    m = _YEAR.match(t)
    if not m:
        return None
    year = int(m[1])
    if not 1000 <= year <= 2999:
        return _unresolved(text, NOTE_UNPARSABLE)
    return _year(text, year, relative=False)


_OPT_WD = r"(?:" + _WEEKDAY + r",? )?"
_DAYNUM = r"(?:the )?(\d{1,2})(?:st|nd|rd|th)?"
_MDY = re.compile(r"^" + _OPT_WD + _MONTH + r",? " + _DAYNUM + r"(?:,? (\d{4}))?$")
_DMY = re.compile(r"^" + _OPT_WD + _DAYNUM + r" (?:of )?" + _MONTH + r"(?:,? (\d{4}))?$")
_MY = re.compile(r"^" + _MONTH + r",? (?:of )?(\d{4})$")
_M = re.compile(r"^(?:(this|last|next|this past|this coming|the past|the coming) )?" + _MONTH + "$")
_DAY_ONLY = re.compile(r"^(?:the )?\d{1,2}(?:st|nd|rd|th)$")


def _rule_month_names(t: str, text: str, ref: date | None) -> DateMention | None:
    parts: tuple[str | None, str, str, str | None] | None = None
    if m := _MDY.match(t):
        parts = (m[1], m[2], m[3], m[4])
    elif m := _DMY.match(t):
        parts = (m[1], m[3], m[2], m[4])
    if parts is not None:
        wd, mon, day, yr = parts
        month, dnum = _MONTHS[mon], int(day)
        if yr is None:
            if ref is None:
                return _no_ref(text)
            out = _safe_day(
                text, ref.year, month, dnum, relative=True, note="year taken from publication date"
            )
        else:
            out = _safe_day(text, int(yr), month, dnum, relative=False)
        if (
            wd is not None
            and out.start is not None
            and date.fromisoformat(out.start).weekday() != _WEEKDAYS[wd]
        ):
            return _unresolved(text, "weekday does not match date")
        return out
    if m := _MY.match(t):
        return _month(text, int(m[2]), _MONTHS[m[1]], relative=False)
    if m := _M.match(t):
        if ref is None:
            return _no_ref(text)
        which, month = m[1] or "this", _MONTHS[m[2]]
        year = ref.year
        if which in ("last", "this past", "the past"):
            year = ref.year if month < ref.month else ref.year - 1
        elif which in ("next", "this coming", "the coming"):
            year = ref.year if month > ref.month else ref.year + 1
        note = "year taken from publication date" if which == "this" else ""
        return _month(text, year, month, relative=True, note=note)
    if _DAY_ONLY.match(t):
        return _unresolved(text, "ambiguous: day of month without a month")
    return None


_DAY_WORDS = re.compile(
    r"^(?:(the day before yesterday|the day after tomorrow|today|tonight|yesterday|tomorrow|"
    r"last night|this morning|this afternoon|this evening))" + _PART_OF_DAY + "$"
)
_DAY_OFFSETS = {
    "the day before yesterday": -2,
    "yesterday": -1,
    "last night": -1,
    "today": 0,
    "tonight": 0,
    "this morning": 0,
    "this afternoon": 0,
    "this evening": 0,
    "tomorrow": 1,
    "the day after tomorrow": 2,
}


def _rule_day_words(t: str, text: str, ref: date | None) -> DateMention | None:
    m = _DAY_WORDS.match(t)
    if not m:
        return None
    if ref is None:
        return _no_ref(text)
    return _day(text, ref + timedelta(days=_DAY_OFFSETS[m[1]]), relative=True)


_WEEKDAY_RE = re.compile(
    r"^(?:(this|last|next|this past|this coming|the past|the coming|past|coming) )?"
    + _WEEKDAY
    + _PART_OF_DAY
    + "$"
)


def _rule_weekday(t: str, text: str, ref: date | None) -> DateMention | None:
    m = _WEEKDAY_RE.match(t)
    if not m:
        return None
    if ref is None:
        return _no_ref(text)
    which, target = m[1] or "this", _WEEKDAYS[m[2]]
    ahead = (target - ref.weekday()) % 7  # 0..6 days forward
    if which == "this":
        delta = ahead if ahead <= 3 else ahead - 7
    elif which in ("last", "this past", "the past", "past"):
        delta = ahead - 7
    else:
        delta = ahead or 7
    return _day(text, ref + timedelta(days=delta), relative=True)


_UNIT_RELATIVE = re.compile(
    r"^(this|current|the current|last|this past|the past|past|next|this coming)"
    r" (week|weekend|month|quarter|year)$"
)


def _rule_unit_relative(t: str, text: str, ref: date | None) -> DateMention | None:
    m = _UNIT_RELATIVE.match(t)
    if not m:
        return None
    which, unit = m[1], m[2]
    if which in ("this past", "the past", "past") and unit != "weekend":
        return _unresolved(text, NOTE_ROLLING)
    offset = 0
    if which in ("last", "this past", "the past", "past"):
        offset = -1
    elif which in ("next", "this coming"):
        offset = 1
    if unit == "weekend" and offset == 1 and which == "next":
        return _unresolved(text, "ambiguous: which weekend", relative=True)
    if ref is None:
        return _no_ref(text)
    if unit == "week":
        return _week(text, ref + timedelta(weeks=offset), relative=True)
    if unit == "weekend":
        return _weekend(text, ref + timedelta(weeks=offset), relative=True)
    if unit == "month":
        y, mo = divmod(ref.year * 12 + ref.month - 1 + offset, 12)
        return _month(text, y, mo + 1, relative=True)
    if unit == "quarter":
        y, q = divmod(ref.year * 4 + (ref.month - 1) // 3 + offset, 4)
        return _quarter(text, y, q + 1, relative=True, note="calendar quarter assumed")
    return _year(text, ref.year + offset, relative=True)


_AGO = re.compile(r"^" + _NUM + r" (day|week|month|year)s? (ago|earlier today|from now|hence)$")


def _rule_ago(t: str, text: str, ref: date | None) -> DateMention | None:
    m = _AGO.match(t)
    if not m:
        return None
    if ref is None:
        return _no_ref(text)
    n = _num(m[1]) * (1 if m[3] in ("from now", "hence") else -1)
    unit = m[2]
    try:
        if unit == "day":
            return _day(text, ref + timedelta(days=n), relative=True)
        if unit == "week":
            return _week(text, ref + timedelta(weeks=n), relative=True)
        if unit == "month":
            y, mo = divmod(ref.year * 12 + ref.month - 1 + n, 12)
            return _month(text, y, mo + 1, relative=True)
        return _year(text, ref.year + n, relative=True)
    except (ValueError, OverflowError):
        return _unresolved(text, "out of range", relative=True)


_ANAPHORIC = re.compile(
    r"^(?:(?:the )?(?:next|following|previous|preceding|same|prior|subsequent)|that|those)"
    r" (?:day|night|morning|afternoon|evening|week|weekend|month|year|quarter|season|decade)$"
    r"|^(?:the )?(?:day|night|week|month|year) (?:before|after|earlier|later|prior)$"
    r"|^" + _NUM + r" (?:day|week|month|year|decade)s? (?:later|earlier|after|before|prior)$"
    r"|^(?:later|earlier) that (?:day|week|month|year)$"
    r"|^(?:the )?(?:next|following|previous) " + _WEEKDAY + "$"
)
_ROLLING = re.compile(
    r"^(?:the )?(?:past|last|next|coming|previous|recent|upcoming|first|final)"
    r"(?: (?:few|several|many|couple of|" + _NUM[1:-1] + r"))?"
    r" (?:days?|nights?|weeks?|weekends?|months?|quarters?|years?|decades?|centuries|century)$"
)
_DURATION = re.compile(
    r"^(?:(?:more than|less than|fewer than|at least|up to|nearly|almost|about|around|over|"
    r"under|some|only|just|another|a further|the|a|an|few|a few|several|many|couple of|"
    r"a couple of|a number of|half an?|half|the whole|the entire|an entire|a full|full|"
    r"long|consecutive|straight|recent|" + _NUM[1:-1] + r")[ -])*"
    r"(?:days?|nights?|weeks?|fortnights?|months?|quarters?|years?|decades?|centuries|"
    r"seasons|semesters?|hours?|minutes?)"
    r"(?:[ -](?:long|running|straight|in a row|on end|or so|or more))?$"
)
_VAGUE = re.compile(
    r"^(?:the |that |this |one |some |these |those )?"
    r"(?:day|time|moment|period|era|age|future|past|present|season|week|month|year|"
    r"weekend|night|morning|afternoon|evening|days|times|"
    r"other day|recently|lately|now|then|nowadays|currently|once|someday|"
    r"overnight|soon|later|earlier|the time being|modern era|modern times|"
    r"same time|beginning|end|start|middle)$"
)


_VAGUE_AGO = re.compile(
    r"^(?:(?:a few|few|several|many|some|a couple of|couple of|a number of|a|an|"
    r"one|two|three|four|five|\d+) )?(?:days?|weeks?|months?|years?|decades?|centuries|century)"
    r" (?:ago|from now)$"
)
_VAGUE_LATER = re.compile(
    r"^(?:(?:a few|few|several|many|some|a couple of|couple of|a number of) )?"
    r"(?:days?|weeks?|months?|years?|decades?) (?:earlier|later|before|after)$"
)


def _rule_unresolvable(t: str, text: str, ref: date | None) -> DateMention | None:
    if _ANAPHORIC.match(t) or _VAGUE_LATER.match(t):
        return _unresolved(text, NOTE_ANAPHORIC)
    if _VAGUE_AGO.match(t):
        return _unresolved(text, NOTE_VAGUE)
    if t == "the weekend" or t == "weekend":
        return _unresolved(text, "ambiguous: which weekend")
    if _ROLLING.match(t):
        if re.search(r"\bpast\b|\bcoming\b|\bnext\b|\blast\b|\bprevious\b|\bupcoming\b", t):
            return _unresolved(text, NOTE_ROLLING)
        return _unresolved(text, NOTE_DURATION)
    if _VAGUE.match(t):
        return _unresolved(text, NOTE_VAGUE)
    if _DURATION.match(t):
        return _unresolved(text, NOTE_DURATION)
    if re.fullmatch(r"(?:the )?(?:last|next|this|past) decade", t):
        return _unresolved(text, "ambiguous: calendar decade or the past ten years")
    return None


_RULES: tuple[Rule, ...] = (
    _rule_fiscal,
    _rule_frequency,
    _rule_numeric,
    _rule_year_range,
    _rule_multiple,
    _rule_quarter,
    _rule_season,
    _rule_decade_century,
    _rule_year,
    _rule_month_names,
    _rule_day_words,
    _rule_weekday,
    _rule_unit_relative,
    _rule_ago,
    _rule_unresolvable,
)

_MODIFIER = re.compile(
    r"^(?:the )?(early|late|mid|middle of|end of|beginning of|start of|close of|"
    r"first half of|second half of|first part of|latter part of|later|earlier|"
    r"first (?:few )?(?:days|weeks|months) of|last (?:few )?(?:days|weeks|months) of)"
    r"(?:-| )(?:the )?(.+)$"
)
_BARE_UNIT = re.compile(r"^(?:the )?(week|month|quarter|year)$")


def _apply_rules(t: str, text: str, ref: date | None, depth: int = 0) -> DateMention | None:
    if depth < 2 and (m := _MODIFIER.match(t)):
        rest = m[2]
        if bu := _BARE_UNIT.match(rest):
            rest = f"this {bu[1]}"
        inner = _apply_rules(rest, text, ref, depth + 1)
        if inner is not None and inner.resolved:
            caveat = f"approximate: '{m[1]}' not represented; start/end cover the whole period"
            return replace(inner, note=_join(inner.note, caveat))
        if inner is not None:
            return inner
    for rule in _RULES:
        out = rule(t, text, ref)
        if out is not None:
            return out
    return None


# --------------------------------------------------------------------------- dateparser


_YEAR_IN_TEXT = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_DP_PERIODS = {"day": "day", "time": "day", "week": "week", "month": "month", "year": "year"}


@lru_cache(maxsize=64)
def _date_data_parser(base: date) -> Any:
    from dateparser.date import DateDataParser  # type: ignore[import-untyped,unused-ignore]

    return DateDataParser(
        settings={
            "RELATIVE_BASE": datetime(base.year, base.month, base.day),
            "PREFER_DATES_FROM": "current_period",
            "PREFER_DAY_OF_MONTH": "first",
            "RETURN_AS_TIMEZONE_AWARE": False,
        }
    )


@lru_cache(maxsize=4096)
def _dateparser_fallback(text: str, ref: date | None) -> DateMention | None:
    """Absolute formats and other languages.  Only used for texts containing a digit."""
    years = _YEAR_IN_TEXT.findall(text)
    base = ref or date(2000, 1, 1)  # fixed base keeps the function pure
    try:
        data = _date_data_parser(base).get_date_data(text)
    except Exception:  # dateparser raises assorted errors on odd input
        return None
    parsed = data.date_obj
    period = _DP_PERIODS.get(str(data.period))
    if parsed is None or period is None:
        return None
    d = parsed.date()
    explicit_year = len(years) == 1 and int(years[0]) == d.year
    if len(years) > 1 or (years and not explicit_year):
        return _unresolved(text, NOTE_UNPARSABLE)
    relative = not explicit_year
    if relative and ref is None:
        return _no_ref(text)
    if period == "year" and relative:
        return _year(text, d.year, relative=True)
    if period == "year":
        return _year(text, d.year, relative=False)
    if period == "month":
        return _month(text, d.year, d.month, relative)
    if period == "week":
        return _week(text, d, relative)
    return _day(text, d, relative)


# --------------------------------------------------------------------------- public API


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a and b else a or b


def normalise_mention(text: str, reference: date | None) -> DateMention:
    """Normalise one date mention; ``reference`` is the publication date (or None)."""
    if isinstance(reference, datetime):
        reference = reference.date()
    t, prefix_note = _clean(text)
    if not t:
        return _unresolved(text, NOTE_UNPARSABLE)
    try:
        out = _apply_rules(t, text, reference)
        if out is None and any(c.isdigit() for c in t):
            out = _dateparser_fallback(t, reference)
            if out is not None:
                out = replace(out, text=text)
    except (ValueError, OverflowError):  # date arithmetic beyond year 1..9999
        return _unresolved(text, "out of range")
    if out is None:
        return _unresolved(text, NOTE_UNPARSABLE)
    if prefix_note and out.resolved:
        out = replace(out, note=_join(prefix_note, out.note))
    return out


def normalise_mentions(texts: Iterable[str], reference: date | None) -> list[DateMention]:
    """Normalise several mentions against the same publication date."""
    return [normalise_mention(text, reference) for text in texts]
