"""Date mentions normalised to TimeML/TIMEX3 values, and publication timestamps parsed.

Mentions are the DATE (and, when they name a part of a day, TIME) entities spaCy finds. Each
becomes a ``DateMention`` with its character ``span`` in the stored text, a TIMEX3 ``value``, a
granularity and, for calendar periods, the first and last day it covers (``start``/``end``,
for range filters). Relative mentions are resolved against the publication date
(``reference``). Anything ambiguous is kept with ``resolved=False`` and a ``note`` saying why,
never with a guessed value.

Values (TIMEX3 notation where ISO 8601 has none):

=========== ====================== ===========================================================
day         ``2025-11-27``          with a part of the day: ``2025-11-27TMO`` (MO, AF, EV, NI)
week        ``2025-W48``            ISO week; a weekend is ``2025-W48-WE``
month       ``2025-11``
season      ``2025-FA``             SP Mar-May, SU Jun-Aug, FA Sep-Nov, WI Dec-Feb
                                    (``2025-WI`` = Dec 2025 - Feb 2026)
quarter     ``2025-Q3``             calendar quarters
half        ``2025-H1``
year        ``2014``                fiscal years ``FY2013`` (dates depend on the organisation:
                                    no start/end)
decade      ``199X``
century     ``19``                  the 20th century; start/end use 1900-1999
reference   ``PRESENT_REF``         "now", "currently"; ``PAST_REF`` ("recently", "the past"),
                                    ``FUTURE_REF`` ("the future"); no start/end
duration    ``P2W``, ``PT3H``       TIMEX3 DURATION ("two weeks", "several years" = ``PXY``);
                                    not a date: no start/end
set         ``P1Y``                 TIMEX3 SET, a frequency ("every year", "annually");
                                    ``XXXX-WXX-1`` for "every Monday"; no start/end
=========== ====================== ===========================================================

A phrase naming several dates becomes one mention per date, each with its own span: year pairs
and ranges ("2009/2010", "1991 to 1997", "1957-58" -> 1957 and 1958), "March and April 2012",
"Monday and Tuesday".

Relative mentions (``ref`` = the publication date). A month, season, quarter, holiday or
weekday without a year is placed by the **tense of its sentence** (TimeML practice, as
HeidelTime does for news): the verb group nearest to the mention decides (spaCy's tags when
the caller gives them: VBD past, MD "will"/"shall"/"would" future, VBZ/VBP present; "is to",
"plans to", "expected to", "going to" are future; without tags, word lists do the same).

* past tense: the most recent one that has begun by ``ref`` ("August" in a March 2013 article
  that says "sales fell in August" is ``2012-08``; "Friday" is ``ref`` itself or the Friday
  before);
* future tense: the coming one, or the current one if ``ref`` is inside it;
* present tense: the closest one (ties go to the past);
* no verb to go by: months, seasons, quarters and holidays are taken as past (news reports
  what happened), weekdays and month-days as the closest.

"last Friday" / "next Friday" are the one strictly before / after ``ref``; "this week",
"last month", "next year", "this quarter" are calendar units around ``ref``; "this fall" is
that season in ``ref``'s year; "N days/weeks/months/years ago" count back; "early/mid/late X",
"the end of X" resolve to X with an "approximate" note; "the first half" is ``-H1``.

Never resolved (``resolved=False``): anaphoric mentions ("the next day", "that year": relative
to another event), "the weekend" without a tense, a quarter or fiscal period without a year,
ambiguous numeric dates ("03/04/2025"), a decade that could be a century ("the 2000s").

Parsing is rule-first: common forms never reach dateparser, which is only asked about phrases
with a digit that no rule knows (other languages, odd formats), and its answers are cached per
(phrase, publication date). A missing or broken dateparser raises: it is never taken for
"unparsable".
"""

from __future__ import annotations

import bisect
import calendar
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, NamedTuple

__all__ = [
    "DateMention",
    "DocDates",
    "Stamp",
    "mentions_in_text",
    "normalise_mention",
    "normalise_mentions",
    "parse_published",
    "parse_timestamp",
    "sentence_tense",
]

GRANULARITIES = frozenset(
    {
        "day",
        "week",
        "month",
        "season",
        "quarter",
        "half",
        "year",
        "decade",
        "century",
        "reference",
        "duration",
        "set",
        "unknown",
    }
)

PAST, PRESENT, FUTURE, UNKNOWN = "past", "present", "future", ""

NOTE_NO_REF = "relative date without a publication date"
NOTE_DURATION = "duration or frequency, not a date"
NOTE_UNPARSABLE = "unparsable"
NOTE_VAGUE = "vague, not a specific date"
NOTE_ANAPHORIC = "relative to another event in the text, not to the publication date"
NOTE_MULTIPLE = "several dates in one mention"
NOTE_AGE = "age, not a date"
NOTE_IS_DURATION = "duration (TIMEX3 DURATION), not a date"
NOTE_IS_SET = "frequency (TIMEX3 SET), not a date"
NOTE_FISCAL = "fiscal year: its dates depend on the organisation"


@dataclass(frozen=True, slots=True)
class DateMention:
    text: str  # the mention as written, e.g. "this fall"
    value: str | None  # TIMEX3 value, see the module docstring
    granularity: str  # one of GRANULARITIES
    start: str | None  # ISO date of the first day the mention covers (calendar periods)
    end: str | None  # ISO date of the last day it covers
    relative: bool  # True when resolved against the reference date
    resolved: bool  # False when it could not be resolved; value/start/end are then None
    note: str = ""  # why unresolved, or a caveat about a resolved value
    span: tuple[int, int] | None = None  # [start, end) character offsets in the article text


@dataclass(frozen=True, slots=True)
class _Ctx:
    ref: date | None
    tense: str = UNKNOWN


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


def _abstract(text: str, value: str, granularity: str, relative: bool, note: str) -> DateMention:
    """A resolved value without calendar bounds (durations, sets, PAST_REF, fiscal years)."""
    return DateMention(text, value, granularity, None, None, relative, True, note)


def _day(text: str, d: date, relative: bool, note: str = "", part: str = "") -> DateMention:
    return _span(text, d.isoformat() + (f"T{part}" if part else ""), "day", d, d, relative, note)


def _week(text: str, d: date, relative: bool, note: str = "") -> DateMention:
    iso_year, week, weekday = d.isocalendar()
    monday = d - timedelta(days=weekday - 1)
    return _span(
        text, f"{iso_year}-W{week:02d}", "week", monday, monday + timedelta(days=6), relative, note
    )


def _weekend_of(d: date) -> tuple[date, date]:
    saturday = d + timedelta(days=5 - d.weekday())
    return saturday, saturday + timedelta(days=1)


def _weekend(text: str, d: date, relative: bool, note: str = "weekend") -> DateMention:
    saturday, sunday = _weekend_of(d)
    iso_year, week, _ = saturday.isocalendar()
    return _span(text, f"{iso_year}-W{week:02d}-WE", "week", saturday, sunday, relative, note)


def _month_bounds(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _month(text: str, year: int, month: int, relative: bool, note: str = "") -> DateMention:
    start, end = _month_bounds(year, month)
    return _span(text, f"{year:04d}-{month:02d}", "month", start, end, relative, note)


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


def _quarter_bounds(year: int, q: int) -> tuple[date, date]:
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return start, end - timedelta(days=1)


def _quarter(text: str, year: int, q: int, relative: bool, note: str = "") -> DateMention:
    start, end = _quarter_bounds(year, q)
    return _span(text, f"{year:04d}-Q{q}", "quarter", start, end, relative, note)


def _half_bounds(year: int, h: int) -> tuple[date, date]:
    return (
        (date(year, 1, 1), date(year, 6, 30)) if h == 1 else (date(year, 7, 1), date(year, 12, 31))
    )


def _half(text: str, year: int, h: int, relative: bool, note: str = "") -> DateMention:
    start, end = _half_bounds(year, h)
    return _span(text, f"{year:04d}-H{h}", "half", start, end, relative, note)


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


# --------------------------------------------------------------------------- which occurrence

Bounds = Callable[[int], tuple[date, date] | None]


def _direction(tense: str, kind: str) -> str:
    """past / future / closest, from the sentence's tense. ``kind``: "period" or "day"."""
    if tense == PAST:
        return "past"
    if tense == FUTURE:
        return "future"
    if tense == PRESENT:
        return "closest"
    return "past" if kind == "period" else "closest"


def _occurrence_year(ref: date, bounds: Bounds, direction: str) -> int | None:
    """The year of the occurrence meant: the most recent one begun by ``ref`` (past), the
    current or coming one (future), or the nearest (closest; ties go to the past)."""
    candidates = []
    for year in range(ref.year - 2, ref.year + 2):
        b = bounds(year)
        if b is not None:
            candidates.append((year, b))
    if not candidates:
        return None
    if direction == "past":
        begun = [(y, b) for y, b in candidates if b[0] <= ref]
        return max(begun)[0] if begun else None
    if direction == "future":
        coming = [(y, b) for y, b in candidates if b[1] >= ref]
        return min(coming)[0] if coming else None

    def distance(b: tuple[date, date]) -> tuple[int, bool]:
        if b[0] <= ref <= b[1]:
            return 0, False
        return min(abs((b[0] - ref).days), abs((b[1] - ref).days)), b[0] > ref

    return min(candidates, key=lambda yb: distance(yb[1]))[0]


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
    "sixty": 60,
    "hundred": 100,
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
_PARTS_OF_DAY = {
    "morning": "MO",
    "afternoon": "AF",
    "evening": "EV",
    "night": "NI",
    "overnight": "NI",
    "noon": "",
    "midday": "",
    "lunchtime": "",
}
_PART_OF_DAY = r"(?:\s+(morning|afternoon|evening|night|noon|midday|lunchtime|overnight))?"

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

_WHICH = {
    "last": "last",
    "this past": "last",
    "the past": "last",
    "past": "last",
    "next": "next",
    "this coming": "next",
    "the coming": "next",
    "coming": "next",
    "this": "this",
}
_WHICH_RE = r"(?:(this past|this coming|the past|the coming|last|next|this|past|coming) )?"


def _num(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBER_WORDS[token]


def _ordinal(token: str) -> int:
    if token[0].isdigit():
        return int(token[:-2])
    return _ORDINALS[token]


# --------------------------------------------------------------------------- text cleanup

_LEADING = re.compile(
    r"^(?:in|on|at|during|throughout|of|over|for|within|from|between|"
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

Rule = Callable[[str, str, _Ctx], DateMention | None]

_AGE = re.compile(
    r"^(?:aged? (?:of )?)?" + _NUM + r"[- ](?:years?|months?|weeks?|days?)[- ]old$"
    r"|^(?:the )?age of " + _NUM + "$"
)
_AGE_ANY = re.compile(
    r"\b(?:years?|months?|weeks?|days?)[- ]old\b|\bage of\b|\baged\b|-year-old|\bbirthday\b"
)


def _rule_age(t: str, text: str, ctx: _Ctx) -> DateMention | None:
    if m := _AGE.match(t):
        unit = "Y" if "year" in t else "M" if "month" in t else "W" if "week" in t else "D"
        return _abstract(text, f"P{_num(m[1] or m[2])}{unit}", "duration", False, NOTE_AGE)
    if _AGE_ANY.search(t):
        return _unresolved(text, NOTE_AGE)
    return None


_NUMERIC_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_NUMERIC_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})$")
_NUMERIC_SHORT = re.compile(r"^\d{1,2}[/.]\d{1,2}$")
_YEAR_DASH = re.compile(r"^(\d{4})-(\d{2})$")


def _rule_numeric(t: str, text: str, ctx: _Ctx) -> DateMention | None:
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
            return None  # "2024-25": two years, one mention each (see _split)
        if 1 <= tail <= 12:
            return _month(text, y, tail, relative=False)
        return None
    return None


def _safe_day(
    text: str, y: int, m: int, d: int, relative: bool, note: str = "", part: str = ""
) -> DateMention:
    try:
        return _day(text, date(y, m, d), relative, note, part)
    except ValueError:
        return _unresolved(text, "invalid date")


_FISCAL = re.compile(
    r"^(?:the )?(?:(first|second|third|fourth|1st|2nd|3rd|4th)[- ]quarter of |q([1-4]) )?"
    r"(?:fiscal(?:[- ]year)?|fy) ?'?(\d{4}|\d{2})"
    r"(?:'s? (first|second|third|fourth|1st|2nd|3rd|4th)[- ]quarter)?$"
)
_FISCAL_Q_FIRST = re.compile(r"^(?:fiscal |fy ?)?q([1-4]) (?:fiscal |fy ?)'?(\d{4}|\d{2})$")


def _rule_fiscal(t: str, text: str, ctx: _Ctx) -> DateMention | None:
    if not re.search(r"\bfiscal\b|\bfy ?'?\d", t):
        return None
    m = _FISCAL.match(t)
    q: int | None = None
    year_text: str | None = None
    if m:
        year_text = m[3]
        word = m[1] or m[4]
        q = _QUARTER_WORDS[word] if word else (int(m[2]) if m[2] else None)
    elif m2 := _FISCAL_Q_FIRST.match(t):
        q, year_text = int(m2[1]), m2[2]
    if year_text is None:
        return _unresolved(
            text, "fiscal period without a year: its dates depend on the organisation"
        )
    year = int(year_text) if len(year_text) == 4 else 2000 + int(year_text)
    if len(year_text) == 2 and ctx.ref is not None and year > ctx.ref.year + 10:
        year -= 100
    value = f"FY{year:04d}" + (f"-Q{q}" if q else "")
    return _abstract(text, value, "quarter" if q else "year", False, NOTE_FISCAL)


_QUARTER_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "4th": 4,
    "final": 4,
    "last": 4,
}
_QUARTER = re.compile(
    r"^(?:the )?(?:(this|last|next|current|the current|previous) )?"
    r"(?:q([1-4])|(first|second|third|fourth|1st|2nd|3rd|4th|final)[- ]quarter)"
    r"(?:,? (?:of )?(?:(\d{4})|(this|last|next) year))?$"
)
_QUARTER_YEAR_FIRST = re.compile(
    r"^(\d{4}) q([1-4])$|^(\d{4})'s (first|second|third|fourth) quarter$"
)
_HALF = re.compile(
    r"^(?:the )?(first|second|1st|2nd|back|latter) half(?: of)?"
    r"(?: (\d{4})| (?:the|this) year| last year| next year)?$|^h([12]) (\d{4})$|^(\d{4}) h([12])$"
)


def _rule_quarter(t: str, text: str, ctx: _Ctx) -> DateMention | None:
    note = "calendar quarter assumed"
    if m := _QUARTER_YEAR_FIRST.match(t):
        if m[1]:
            return _quarter(text, int(m[1]), int(m[2]), relative=False, note=note)
        return _quarter(text, int(m[3]), _QUARTER_WORDS[m[4]], relative=False, note=note)
    if m := _HALF.match(t):
        if m[3]:
            return _half(text, int(m[4]), int(m[3]), relative=False)
        if m[6]:
            return _half(text, int(m[5]), int(m[6]), relative=False)
        h = 1 if m[1] in ("first", "1st") else 2
        if m[2]:
            return _half(text, int(m[2]), h, relative=False)
        if ctx.ref is None:
            return _no_ref(text)
        year = ctx.ref.year + (
            -1 if t.endswith("last year") else 1 if t.endswith("next year") else 0
        )
        if t.endswith(("year", "last year", "next year")):
            return _half(text, year, h, relative=True)
        found = _occurrence_year(
            ctx.ref, lambda y: _half_bounds(y, h), _direction(ctx.tense, "period")
        )
        if found is None:
            return _unresolved(text, "ambiguous: half without a year", relative=True)
        return _half(text, found, h, relative=True, note="year from the tense of the sentence")
    m = _QUARTER.match(t)
    if not m:
        return None
    q = int(m[2]) if m[2] else _QUARTER_WORDS[m[3]]
    if m[4]:
        return _quarter(text, int(m[4]), q, relative=False, note=note)
    if ctx.ref is None:
        return _no_ref(text)
    if m[5]:
        year = ctx.ref.year + {"this": 0, "last": -1, "next": 1}[m[5]]
        return _quarter(text, year, q, relative=True, note=note)
    which = m[1]
    if which in ("this", "current", "the current"):
        return _quarter(text, ctx.ref.year, q, relative=True, note=note)
    if which in ("last", "previous"):
        direction = "past"
    elif which == "next":
        direction = "future"
    else:
        direction = _direction(ctx.tense, "period")
    found = _occurrence_year(ctx.ref, lambda y: _quarter_bounds(y, q), direction)
    if found is None:
        return _unresolved(text, "ambiguous: quarter without a year", relative=True)
    return _quarter(
        text, found, q, relative=True, note=note + "; year from the tense of the sentence"
    )


_SEASON = r"(spring|summer|fall|autumn|winter)"
_SEASON_EXPLICIT = re.compile(
    r"^(?:the )?" + _SEASON + r"(?: of)? (\d{4})(?:\s*[-/]\s*(\d{2}|\d{4}))?$"
)
_SEASON_YEAR_FIRST = re.compile(r"^(\d{4}) " + _SEASON + "$")
_SEASON_RELATIVE = re.compile(
    r"^(?:(this|last|next|the|this past|this coming|the past|the coming|past|coming) )?"
    + _SEASON
    + r"(?: season)?$"
)


def _rule_season(t: str, text: str, ctx: _Ctx) -> DateMention | None:
    if m := _SEASON_YEAR_FIRST.match(t):
        t = f"{m[2]} {m[1]}"
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
    ref = ctx.ref
    if ref is None:
        return _no_ref(text)
    code, which = _SEASON_CODES[m[2]], m[1] or ""
    if which == "this":
        year = ref.year - 1 if code == "WI" and ref.month <= 2 else ref.year
        return _season(text, year, code, relative=True)
    if _WHICH.get(which) == "last":
        year = ref.year
        while _season_bounds(year, code)[1] >= ref:
            year -= 1
        return _season(text, year, code, relative=True)
    if _WHICH.get(which) == "next":
        year = ref.year - 1
        while _season_bounds(year, code)[0] <= ref:
            year += 1
        return _season(text, year, code, relative=True)
    found = _occurrence_year(
        ref, lambda y: _season_bounds(y, code), _direction(ctx.tense, "period")
    )
    if found is None:
        return _unresolved(text, "ambiguous: which season", relative=True)
    return _season(text, found, code, relative=True)


_DECADE = re.compile(r"^(?:the )?(\d{3})0'?s$")
_DECADE_SHORT = re.compile(r"^(?:the )?(?:'|‘)?([1-9])0'?s$")
_DECADE_WORD = re.compile(r"^(?:the )?(" + "|".join(_DECADE_WORDS) + r")$")
_CENTURY = re.compile(r"^(?:the )?" + _ORDINAL + r"[- ]century$")
_CENTURY_RELATIVE = re.compile(r"^(this|last|next|the current) century$")


def _rule_decade_century(t: str, text: str, ctx: _Ctx) -> DateMention | None:
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
    ref = ctx.ref
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
    if t in ("this decade", "the current decade"):
        if ref is None:
            return _no_ref(text)
        return _decade(text, ref.year - ref.year % 10, relative=True)
    return None


_YEAR = re.compile(r"^(?:the )?(?:(?:calendar )?year )?(\d{4})$")


def _rule_year(t: str, text: str, ctx: _Ctx) -> DateMention | None:
    m = _YEAR.match(t)
    if not m:
        return None
    year = int(m[1])
    if not 1000 <= year <= 2999:
        return _unresolved(text, NOTE_UNPARSABLE)
    return _year(text, year, relative=False)


_OPT_WD = r"(?:" + _WEEKDAY + r",? )?"
_DAYNUM = r"(?:the )?(\d{1,2})(?:st|nd|rd|th)?"
_MDY = re.compile(
    r"^" + _OPT_WD + _MONTH + r",? " + _DAYNUM + r"(?:,? (\d{4}))?" + _PART_OF_DAY + "$"
)
_DMY = re.compile(
    r"^" + _OPT_WD + _DAYNUM + r" (?:of )?" + _MONTH + r"(?:,? (\d{4}))?" + _PART_OF_DAY + "$"
)
_MY = re.compile(r"^" + _MONTH + r",? (?:of )?(\d{4})$")
_M = re.compile(r"^" + _WHICH_RE + _MONTH + "$")
_DAY_ONLY = re.compile(r"^(?:the )?\d{1,2}(?:st|nd|rd|th)$")


def _rule_month_names(t: str, text: str, ctx: _Ctx) -> DateMention | None:
    parts: tuple[str | None, str, str, str | None, str | None] | None = None
    if m := _MDY.match(t):
        parts = (m[1], m[2], m[3], m[4], m[5])
    elif m := _DMY.match(t):
        parts = (m[1], m[3], m[2], m[4], m[5])
    ref = ctx.ref
    if parts is not None:
        wd, mon, day, yr, part_word = parts
        month, dnum = _MONTHS[mon], int(day)
        part = _PARTS_OF_DAY.get(part_word or "", "")
        if yr is not None:
            out = _safe_day(text, int(yr), month, dnum, relative=False, part=part)
        else:
            if ref is None:
                return _no_ref(text)
            day_mention = _day_without_year(text, ref, month, dnum, wd, ctx.tense, part)
            return day_mention if day_mention is not None else _unresolved(text, "invalid date")
        if (
            wd is not None
            and out.start
            and date.fromisoformat(out.start).weekday() != _WEEKDAYS[wd]
        ):
            return _unresolved(text, "weekday does not match date")
        return out
    if m := _MY.match(t):
        return _month(text, int(m[2]), _MONTHS[m[1]], relative=False)
    if m := _M.match(t):
        if ref is None:
            return _no_ref(text)
        which, month = _WHICH.get(m[1] or "", ""), _MONTHS[m[2]]
        if which == "last":
            year = ref.year if month < ref.month else ref.year - 1
            return _month(text, year, month, relative=True)
        if which == "next":
            year = ref.year if month > ref.month else ref.year + 1
            return _month(text, year, month, relative=True)
        if which == "this":
            return _month(text, ref.year, month, relative=True, note="year of publication")
        found = _occurrence_year(
            ref, lambda y: _month_bounds(y, month), _direction(ctx.tense, "period")
        )
        if found is None:
            return _unresolved(text, "ambiguous: which year", relative=True)
        return _month(text, found, month, relative=True, note="year from the tense of the sentence")
    if _DAY_ONLY.match(t):
        return _unresolved(text, "ambiguous: day of month without a month")
    return None


def _day_without_year(
    text: str, ref: date, month: int, dnum: int, wd: str | None, tense: str, part: str
) -> DateMention | None:
    def bounds(y: int) -> tuple[date, date] | None:
        try:
            d = date(y, month, dnum)
        except ValueError:
            return None
        if wd is not None and d.weekday() != _WEEKDAYS[wd]:
            return None  # a weekday with the date picks the year it falls on
        return d, d

    found = _occurrence_year(ref, bounds, _direction(tense, "day"))
    if found is not None and wd is not None and abs(found - ref.year) > 1:
        found = None  # the weekday fits only a year far from the publication date
    if found is None and wd is not None:
        return _unresolved(text, "weekday does not match date", relative=True)
    if found is None:
        return None
    note = "year from the weekday" if wd else "year from the tense of the sentence"
    return _day(text, date(found, month, dnum), relative=True, note=note, part=part)


_DAY_WORDS = re.compile(
    r"^(?:(the day before yesterday|the day after tomorrow|today|tonight|yesterday|tomorrow|"
    r"last night|this morning|this afternoon|this evening|this evening's))" + _PART_OF_DAY + "$"
)
_DAY_OFFSETS = {
    "the day before yesterday": (-2, ""),
    "yesterday": (-1, ""),
    "last night": (-1, "NI"),
    "today": (0, ""),
    "tonight": (0, "NI"),
    "this morning": (0, "MO"),
    "this afternoon": (0, "AF"),
    "this evening": (0, "EV"),
    "tomorrow": (1, ""),
    "the day after tomorrow": (2, ""),
}


def _rule_day_words(t: str, text: str, ctx: _Ctx) -> DateMention | None:
    m = _DAY_WORDS.match(t)
    if not m:
        return None
    if ctx.ref is None:
        return _no_ref(text)
    offset, part = _DAY_OFFSETS[m[1]]
    part = _PARTS_OF_DAY.get(m[2] or "", "") or part
    return _day(text, ctx.ref + timedelta(days=offset), relative=True, part=part)


_WEEKDAY_RE = re.compile(
    r"^(?:(this|last|next|this past|this coming|the past|the coming|past|coming) )?"
    + _WEEKDAY
    + _PART_OF_DAY
    + "$"
)


def _rule_weekday(t: str, text: str, ctx: _Ctx) -> DateMention | None:
    m = _WEEKDAY_RE.match(t)
    if not m:
        return None
    ref = ctx.ref
    if ref is None:
        return _no_ref(text)
    which, target = _WHICH.get(m[1] or "", ""), _WEEKDAYS[m[2]]
    part = _PARTS_OF_DAY.get(m[3] or "", "")
    ahead = (target - ref.weekday()) % 7  # 0..6 days forward
    if which == "last":
        delta = ahead - 7
    elif which == "next":
        delta = ahead or 7
    else:
        direction = _direction(ctx.tense, "day")
        if which == "this" and ctx.tense == UNKNOWN:
            direction = "closest"
        if direction == "past":
            delta = ahead - 7 if ahead else 0
        elif direction == "future":
            delta = ahead
        else:
            delta = ahead if ahead <= 3 else ahead - 7
    return _day(text, ref + timedelta(days=delta), relative=True, part=part)


_WEEKEND = re.compile(r"^(?:the |this |this past |this coming )?weekend$")


def _rule_weekend(t: str, text: str, ctx: _Ctx) -> DateMention | None:
    if not _WEEKEND.match(t):
        return None
    if ctx.ref is None:
        return _no_ref(text)
    ref = ctx.ref
    if "past" in t or ctx.tense == PAST:
        this_sat = _weekend_of(ref)[0]
        d = this_sat if this_sat <= ref else this_sat - timedelta(weeks=1)
        return _weekend(text, d, relative=True)
    if "coming" in t or ctx.tense == FUTURE or t == "this weekend":
        return _weekend(text, ref, relative=True)
    return _unresolved(text, "ambiguous: which weekend", relative=True)


_UNIT_RELATIVE = re.compile(
    r"^(this|current|the current|last|this past|next|this coming)"
    r" (week|weekend|month|quarter|year)$"
)


def _rule_unit_relative(t: str, text: str, ctx: _Ctx) -> DateMention | None:
    m = _UNIT_RELATIVE.match(t)
    if not m:
        return None
    which, unit = m[1], m[2]
    offset = 0
    if which in ("last", "this past"):
        offset = -1
    elif which in ("next", "this coming"):
        offset = 1
    if unit == "weekend" and which == "next":
        return _unresolved(text, "ambiguous: which weekend", relative=True)
    ref = ctx.ref
    if ref is None:
        return _no_ref(text)
    if unit == "week":
        return _week(text, ref + timedelta(weeks=offset), relative=True)
    if unit == "weekend":
        if which == "this past":
            return _rule_weekend("this past weekend", text, ctx)
        return _weekend(text, ref + timedelta(weeks=offset), relative=True)
    if unit == "month":
        y, mo = divmod(ref.year * 12 + ref.month - 1 + offset, 12)
        return _month(text, y, mo + 1, relative=True)
    if unit == "quarter":
        y, q = divmod(ref.year * 4 + (ref.month - 1) // 3 + offset, 4)
        return _quarter(text, y, q + 1, relative=True, note="calendar quarter assumed")
    return _year(text, ref.year + offset, relative=True)


_AGO = re.compile(
    r"^" + _NUM + r" (day|week|month|year|decade)s? (ago|earlier today|from now|hence)$"
)


def _rule_ago(t: str, text: str, ctx: _Ctx) -> DateMention | None:
    m = _AGO.match(t)
    if not m:
        return None
    ref = ctx.ref
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
        if unit == "decade":
            return _decade(text, (ref.year + 10 * n) // 10 * 10, relative=True)
        return _year(text, ref.year + n, relative=True)
    except (ValueError, OverflowError):
        return _unresolved(text, "out of range", relative=True)


# --- holidays


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th (1-based; -1 = last) given weekday of a month."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


_FIXED_HOLIDAYS: dict[str, tuple[int, int]] = {
    "new year's day": (1, 1),
    "new year": (1, 1),
    "new years day": (1, 1),
    "epiphany": (1, 6),
    "australia day": (1, 26),
    "valentine's day": (2, 14),
    "valentines day": (2, 14),
    "st. patrick's day": (3, 17),
    "st patrick's day": (3, 17),
    "saint patrick's day": (3, 17),
    "april fools' day": (4, 1),
    "april fool's day": (4, 1),
    "earth day": (4, 22),
    "may day": (5, 1),
    "cinco de mayo": (5, 5),
    "juneteenth": (6, 19),
    "canada day": (7, 1),
    "independence day": (7, 4),
    "the fourth of july": (7, 4),
    "fourth of july": (7, 4),
    "bastille day": (7, 14),
    "halloween": (10, 31),
    "all saints' day": (11, 1),
    "guy fawkes night": (11, 5),
    "bonfire night": (11, 5),
    "veterans day": (11, 11),
    "veterans' day": (11, 11),
    "armistice day": (11, 11),
    "remembrance day": (11, 11),
    "christmas eve": (12, 24),
    "christmas": (12, 25),
    "christmas day": (12, 25),
    "xmas": (12, 25),
    "boxing day": (12, 26),
    "new year's eve": (12, 31),
    "new years eve": (12, 31),
    "hogmanay": (12, 31),
}
_MOVABLE_HOLIDAYS: dict[str, Callable[[int], date]] = {
    "easter": _easter,
    "easter sunday": _easter,
    "easter monday": lambda y: _easter(y) + timedelta(days=1),
    "good friday": lambda y: _easter(y) - timedelta(days=2),
    "palm sunday": lambda y: _easter(y) - timedelta(days=7),
    "ash wednesday": lambda y: _easter(y) - timedelta(days=46),
    "shrove tuesday": lambda y: _easter(y) - timedelta(days=47),
    "mardi gras": lambda y: _easter(y) - timedelta(days=47),
    "ascension day": lambda y: _easter(y) + timedelta(days=39),
    "pentecost": lambda y: _easter(y) + timedelta(days=49),
    "whit monday": lambda y: _easter(y) + timedelta(days=50),
    "thanksgiving": lambda y: _nth_weekday(y, 11, 3, 4),  # US: fourth Thursday of November
    "thanksgiving day": lambda y: _nth_weekday(y, 11, 3, 4),
    "black friday": lambda y: _nth_weekday(y, 11, 3, 4) + timedelta(days=1),
    "cyber monday": lambda y: _nth_weekday(y, 11, 3, 4) + timedelta(days=4),
    "labor day": lambda y: _nth_weekday(y, 9, 0, 1),
    "memorial day": lambda y: _nth_weekday(y, 5, 0, -1),
    "martin luther king day": lambda y: _nth_weekday(y, 1, 0, 3),
    "martin luther king jr. day": lambda y: _nth_weekday(y, 1, 0, 3),
    "mlk day": lambda y: _nth_weekday(y, 1, 0, 3),
    "presidents' day": lambda y: _nth_weekday(y, 2, 0, 3),
    "presidents day": lambda y: _nth_weekday(y, 2, 0, 3),
    "columbus day": lambda y: _nth_weekday(y, 10, 0, 2),
    "mother's day": lambda y: _nth_weekday(y, 5, 6, 2),  # US date
    "father's day": lambda y: _nth_weekday(y, 6, 6, 3),
}
_HOLIDAY_NAMES = sorted(
    (re.escape(k) for k in (*_FIXED_HOLIDAYS, *_MOVABLE_HOLIDAYS)), key=len, reverse=True
)
_HOLIDAY = re.compile(
    r"^" + _WHICH_RE + r"(" + "|".join(_HOLIDAY_NAMES) + r")(?:,? (?:of )?(\d{4}))?$"
)


def _holiday_date(name: str, year: int) -> date:
    if name in _FIXED_HOLIDAYS:
        month, day = _FIXED_HOLIDAYS[name]
        return date(year, month, day)
    return _MOVABLE_HOLIDAYS[name](year)


def _rule_holiday(t: str, text: str, ctx: _Ctx) -> DateMention | None:
    m = _HOLIDAY.match(t.replace("\u2019", "'"))
    if not m:
        return None
    name = m[2]
    note = "US date" if name in ("mother's day", "father's day", "thanksgiving") else ""
    if m[3]:
        return _day(text, _holiday_date(name, int(m[3])), relative=False, note=note)
    ref = ctx.ref
    if ref is None:
        return _no_ref(text)
    which = _WHICH.get(m[1] or "", "")
    if which == "this":
        return _day(text, _holiday_date(name, ref.year), relative=True, note=note)

    def bounds(y: int) -> tuple[date, date]:
        d = _holiday_date(name, y)
        return d, d

    if which == "last":
        direction = "past"
        year = max(y for y in range(ref.year - 2, ref.year + 1) if bounds(y)[0] < ref)
    elif which == "next":
        direction = "future"
        year = min(y for y in range(ref.year, ref.year + 3) if bounds(y)[0] > ref)
    else:
        direction = _direction(ctx.tense, "period")
        found = _occurrence_year(ref, bounds, direction)
        if found is None:
            return _unresolved(text, "ambiguous: which year", relative=True)
        year = found
    return _day(text, _holiday_date(name, year), relative=True, note=note)


# --- TimeML reference values, durations and sets

_REF_WORDS = {
    "now": "PRESENT_REF",
    "right now": "PRESENT_REF",
    "currently": "PRESENT_REF",
    "nowadays": "PRESENT_REF",
    "at present": "PRESENT_REF",
    "present": "PRESENT_REF",
    "the present": "PRESENT_REF",
    "the moment": "PRESENT_REF",
    "these days": "PRESENT_REF",
    "recently": "PAST_REF",
    "lately": "PAST_REF",
    "the past": "PAST_REF",
    "previously": "PAST_REF",
    "formerly": "PAST_REF",
    "the future": "FUTURE_REF",
    "future": "FUTURE_REF",
}

_UNIT_CODES = {
    "second": ("T", "S", 1),
    "minute": ("T", "M", 1),
    "hour": ("T", "H", 1),
    "day": ("", "D", 1),
    "night": ("", "D", 1),
    "week": ("", "W", 1),
    "weekend": ("", "WE", 1),
    "fortnight": ("", "W", 2),
    "month": ("", "M", 1),
    "quarter": ("", "M", 3),
    "semester": ("", "M", 6),
    "year": ("", "Y", 1),
    "decade": ("", "DE", 1),
    "century": ("", "CE", 1),
    "centurie": ("", "CE", 1),
}
_UNIT = (
    r"(seconds?|minutes?|hours?|days?|nights?|weeks?|weekends?|fortnights?|months?|"
    r"quarters?|semesters?|years?|decades?|century|centuries)"
)
_VAGUE_QUANTITY = (
    r"(?:a few|few|several|many|some|a couple of|couple of|a number of|a couple|numerous|"
    r"recent|the past few|the last few|the next few|the coming|the past|the last|the next)"
)
_DURATION = re.compile(
    r"^(?:(?:more than|less than|fewer than|at least|up to|nearly|almost|about|around|over|"
    r"under|some|only|just|another|a further|an additional|roughly|approximately|"
    r"the whole|the entire|an entire|a full|full|the|the past|the last|the next|"
    r"the first|the final|the following|the previous|the coming|past|next|last) )*"
    r"(?:(" + _NUM[1:-1] + r"|\d+(?:\.\d+)?|" + _VAGUE_QUANTITY[3:-1] + r"|half an?|a half)"
    r"(?: and a half)?[ -])?" + _UNIT + r"(?: and a half)?"
    r"(?:[ -](?:long|running|straight|in a row|on end|or so|or more|old))?$"
)
_SET_ADVERBS = {
    "daily": "P1D",
    "nightly": "P1D",
    "weekly": "P1W",
    "fortnightly": "P2W",
    "biweekly": "P2W",
    "monthly": "P1M",
    "bimonthly": "P2M",
    "quarterly": "P3M",
    "annual": "P1Y",
    "annually": "P1Y",
    "yearly": "P1Y",
    "biannual": "P6M",
    "biannually": "P6M",
    "semiannual": "P6M",
    "semiannually": "P6M",
    "biennial": "P2Y",
    "hourly": "PT1H",
}
_SET_EVERY = re.compile(r"^(?:every|each|per) (?:(other) )?(?:" + _NUM + r" )?" + _UNIT + r"$")
_SET_TIMES = re.compile(
    r"^(?:once|twice|thrice|" + _NUM[1:-1] + r" times) (?:a|an|per|every|each) " + _UNIT + r"$"
)
_SET_WEEKDAY = re.compile(
    r"^(?:every |each |on )?(monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday)s$|^(?:every|each) " + _WEEKDAY + "$"
)
_FREQ_OTHER = re.compile(
    r"\b(?:every|each|per|annual|annually|daily|weekly|monthly|yearly|quarterly|nightly|"
    r"hourly|biweekly|bimonthly|biannual|biannually|semiannual|semiannually|fortnightly|"
    r"once|twice|thrice|times|year-round|round-the-clock|perennial|seasonal|seasonally|"
    r"all (?:day|night|week|month|year)|weekdays|weekends)\b|24/7"
)


def _unit_value(unit: str, n: str) -> str:
    base = unit.rstrip("s") if unit not in ("centuries",) else "centurie"
    time_flag, code, factor = _UNIT_CODES[base]
    if n == "X":
        return f"P{time_flag}X{code}"
    number = float(n) * factor
    if code == "W" and number != int(number):
        number, code = number * 7, "D"
    if code == "Y" and number != int(number):
        number, code = number * 12, "M"
    shown = f"{number:g}"
    return f"P{time_flag}{shown}{code}"


def _quantity(word: str | None, unit: str, t: str) -> str:
    if word is None:
        return "X" if unit.endswith("s") else "1"
    if word.startswith("half") or word == "a half":
        return "0.5"
    if re.fullmatch(r"\d+(?:\.\d+)?", word):
        n = float(word)
    elif word in _NUMBER_WORDS:
        n = float(_NUMBER_WORDS[word])
    else:
        return "X"
    if "and a half" in t:
        n += 0.5
    return f"{n:g}"


def _rule_duration_set(t: str, text: str, ctx: _Ctx) -> DateMention | None:
    if t in _REF_WORDS:
        return _abstract(text, _REF_WORDS[t], "reference", True, "TimeML " + _REF_WORDS[t])
    if t in _SET_ADVERBS:
        return _abstract(text, _SET_ADVERBS[t], "set", False, NOTE_IS_SET)
    if m := _SET_WEEKDAY.match(t):
        day = _WEEKDAYS[m[1] or m[2]]
        return _abstract(text, f"XXXX-WXX-{day + 1}", "set", False, NOTE_IS_SET)
    if m := _SET_TIMES.match(t):
        return _abstract(text, _unit_value(m[1], "1"), "set", False, NOTE_IS_SET)
    if m := _SET_EVERY.match(t):
        n = "2" if m[1] else (f"{_num(m[2])}" if m[2] else "1")
        return _abstract(text, _unit_value(m[3], n), "set", False, NOTE_IS_SET)
    if _FREQ_OTHER.search(t):
        return _unresolved(text, NOTE_DURATION)
    if m := _DURATION.match(t):
        unit = m[2]
        if t in ("the day", "the week", "the month", "the year", "the night", "the weekend"):
            return None
        if re.fullmatch(
            r"(?:the )?(?:first|final|next|previous|following|coming) "
            r"(?:day|week|month|year|quarter|weekend|night)",
            t,
        ):
            return None  # an anaphor ("the next day") or vague, not a duration
        word = m[1]
        if word is None and re.search(
            r"\b(?:recent|the past few|the last few|the next few|few|several|many|some|"
            r"couple|number of|numerous)\b",
            t,
        ):
            word = "several"
        quantity = _quantity(word, unit, t)
        if (
            word is None
            and not unit.endswith("s")
            and not re.match(
                r"^(?:(?:more than|less than|at least|up to|nearly|almost|about|around|over|under|"
                r"another|a further|an additional|a full|the whole|the entire|an entire|full|"
                r"the past|the last|the next|past|last|next) )+",
                t,
            )
        ):
            return None
        return _abstract(text, _unit_value(unit, quantity), "duration", False, NOTE_IS_DURATION)
    return None


_ANAPHORIC = re.compile(
    r"^(?:(?:the )?(?:next|following|previous|preceding|same|prior|subsequent)|that|those)"
    r" (?:day|night|morning|afternoon|evening|week|weekend|month|year|quarter|season|decade)$"
    r"|^(?:the )?(?:day|night|week|month|year) (?:before|after|earlier|later|prior)$"
    r"|^" + _NUM + r" (?:day|week|month|year|decade)s? (?:later|earlier|after|before|prior)$"
    r"|^(?:later|earlier) that (?:day|week|month|year)$"
    r"|^(?:the )?(?:next|following|previous) " + _WEEKDAY + "$"
)
_VAGUE = re.compile(
    r"^(?:the |that |this |one |some |these |those )?"
    r"(?:day|time|moment|period|era|age|season|week|month|year|"
    r"weekend|night|morning|afternoon|evening|days|times|"
    r"other day|once|someday|then|"
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


def _rule_unresolvable(t: str, text: str, ctx: _Ctx) -> DateMention | None:
    if _ANAPHORIC.match(t) or _VAGUE_LATER.match(t):
        return _unresolved(text, NOTE_ANAPHORIC)
    if _VAGUE_AGO.match(t):
        return _unresolved(text, NOTE_VAGUE)
    if _VAGUE.match(t):
        return _unresolved(text, NOTE_VAGUE)
    if re.fullmatch(r"(?:the )?(?:last|next|this|past) decade", t):
        return _unresolved(text, "ambiguous: calendar decade or the past ten years")
    if re.fullmatch(
        r"(?:the )?(?:next|following|previous|first|final|last|past) "
        r"(?:day|week|month|year|quarter|night)",
        t,
    ):
        return _unresolved(text, NOTE_ANAPHORIC)
    return None


def _rule_multiple(t: str, text: str, ctx: _Ctx) -> DateMention | None:
    if re.search(r"\b(?:and|or)\b|&", t):
        return _unresolved(text, NOTE_MULTIPLE)
    if re.fullmatch(r"(?:the years? )?\d{4}\s*(?:-|/|to|through|until)\s*(?:\d{2}|\d{4})", t):
        return _unresolved(text, NOTE_MULTIPLE)
    return None


_RULES: tuple[Rule, ...] = (
    _rule_fiscal,
    _rule_age,
    _rule_numeric,
    _rule_quarter,
    _rule_season,
    _rule_decade_century,
    _rule_year,
    _rule_holiday,
    _rule_month_names,
    _rule_day_words,
    _rule_weekday,
    _rule_weekend,
    _rule_unit_relative,
    _rule_ago,
    _rule_duration_set,
    _rule_unresolvable,
    _rule_multiple,
)

_MODIFIER = re.compile(
    r"^(?:the )?(early|late|mid|middle of|end of|beginning of|start of|close of|"
    r"first half of|second half of|first part of|latter part of|later|earlier|"
    r"first (?:few )?(?:days|weeks|months) of|last (?:few )?(?:days|weeks|months) of)"
    r"(?:-| )(?:the )?(.+)$"
)
_BARE_UNIT = re.compile(r"^(?:the )?(week|month|quarter|year)$")


def _apply_rules(t: str, text: str, ctx: _Ctx, depth: int = 0) -> DateMention | None:
    if depth < 2 and not _HALF.match(t) and (m := _MODIFIER.match(t)):
        rest = m[2]
        if bu := _BARE_UNIT.match(rest):
            rest = f"this {bu[1]}"
        inner = _apply_rules(rest, text, ctx, depth + 1)
        if inner is not None and inner.resolved and inner.start is not None:
            caveat = f"approximate: '{m[1]}' not represented; start/end cover the whole period"
            return replace(inner, note=_join(inner.note, caveat))
        if inner is not None and not inner.resolved:
            return inner
    for rule in _RULES:
        out = rule(t, text, ctx)
        if out is not None:
            return out
    return None


# --------------------------------------------------------------------------- dateparser

_YEAR_IN_TEXT = re.compile(r"(?<!\d)(\d{4})(?!\d)")
# The languages dateparser is asked in: all ~400 locales would be tried (and their patterns
# compiled) for every phrase no locale knows, seconds each; the NER model is English anyway,
# and these cover dates written in the common European languages (front matter, feeds).
DATEPARSER_LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl")
_QUANTITY = re.compile(
    r"%|\$|€|£|\b(?:percent|per cent|million|billion|trillion|thousand|hundred|dollars?|"
    r"euros?|pounds?|people|points?|km|miles?|kilometres?|kg|tonnes?|times)\b",
    re.I,
)
_DP_PERIODS = {"day": "day", "time": "day", "week": "week", "month": "month", "year": "year"}


@lru_cache(maxsize=64)
def _date_data_parser(base: date) -> Any:
    try:
        from dateparser.date import DateDataParser  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:  # never silently "unparsable"
        raise RuntimeError(
            f"dateparser is needed to normalise dates but cannot be imported: {exc}"
        ) from exc
    return DateDataParser(
        languages=list(DATEPARSER_LANGUAGES),
        settings={
            "RELATIVE_BASE": datetime(base.year, base.month, base.day),
            "PREFER_DATES_FROM": "current_period",
            "PREFER_DAY_OF_MONTH": "first",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )


@lru_cache(maxsize=8192)
def _dateparser_fallback(text: str, ref: date | None) -> DateMention | None:
    """Absolute formats no rule knows and other languages; cached per (phrase, reference).

    Only asked about short phrases with a digit and a letter; a relative answer (no year
    written) is kept only when it is within a year of the reference."""
    if len(text) > 60 or not re.search(r"[^\W\d_]", text) or not re.search(r"\d", text):
        return None
    if _QUANTITY.search(text):
        return None  # "20 million": a number the model took for a date
    years = _YEAR_IN_TEXT.findall(text)
    base = ref or date(2000, 1, 1)  # fixed base keeps the function pure
    try:
        data = _date_data_parser(base).get_date_data(text)
    except (ValueError, OverflowError):  # odd input; anything else is a broken dateparser
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
    if relative and ref is not None and abs((d - ref).days) > 366:
        return _unresolved(text, NOTE_UNPARSABLE)
    if period == "year":
        return _year(text, d.year, relative=relative)
    if period == "month":
        return _month(text, d.year, d.month, relative)
    if period == "week":
        return _week(text, d, relative)
    return _day(text, d, relative)


# --------------------------------------------------------------------------- one mention


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a and b else a or b


def _as_date(reference: date | datetime | None) -> date | None:
    if isinstance(reference, datetime):
        return reference.date()
    return reference


def normalise_mention(
    text: str, reference: date | datetime | None, tense: str = UNKNOWN
) -> DateMention:
    """Normalise one date mention; ``reference`` is the publication date (or None), ``tense``
    the tense of its sentence (``past``, ``present``, ``future`` or ``""``).

    A phrase naming several dates ("2009/2010") is unresolved here: ``normalise_mentions`` and
    ``mentions_in_text`` split it into one mention per date."""
    return _normalise_one(text, _as_date(reference), tense)


@lru_cache(maxsize=16384)
def _normalise_one(text: str, ref: date | None, tense: str) -> DateMention:
    t, prefix_note = _clean(text)
    if not t:
        return _unresolved(text, NOTE_UNPARSABLE)
    ctx = _Ctx(ref, tense)
    try:
        out = _apply_rules(t, text, ctx)
        if out is None and any(c.isdigit() for c in t):
            out = _dateparser_fallback(t, ref)
            if out is not None:
                out = replace(out, text=text)
    except (ValueError, OverflowError):  # date arithmetic beyond year 1..9999
        return _unresolved(text, "out of range")
    if out is None:
        return _unresolved(text, NOTE_UNPARSABLE)
    if prefix_note and out.resolved:
        out = replace(out, note=_join(prefix_note, out.note))
    return out


# --------------------------------------------------------------------------- several dates

_YEAR_PAIR = re.compile(
    r"^(?P<lead>(?:(?:from|between|in|during|the years?|the)\s+)*)"
    r"(?P<a>\d{4})\s*(?P<sep>-|–|—|/|\bto\b|\bthrough\b|\bthru\b|\buntil\b|\band\b|\bor\b)\s*"
    r"'?(?P<b>\d{4}|\d{2})$",
    re.I,
)
_SEPARATOR = re.compile(r"\s+(?:and|or|to|through|thru|until|till)\s+|\s*[-–—/&]\s*", re.I)
_EXPLICIT_YEAR = re.compile(r"(?<!\d)(\d{4})$")
_LEAD_WORDS = re.compile(r"^(?:(?:from|between)\s+)+", re.I)

Part = tuple[int, int, DateMention]


def _split(text: str, ref: date | None, tense: str) -> list[Part] | None:
    """A phrase naming several dates: its parts as (start, end, mention) within ``text``.

    Year pairs and ranges give one mention per year written ("1957-58": 1957 and 1958); other
    pairs ("March and April 2012", "Monday and Tuesday", "March 3-5") are split when both sides
    resolve, the first borrowing the year (and month) of the second when it has none."""
    stripped = text.rstrip(" .,;:")
    if m := _YEAR_PAIR.match(stripped):
        a, b_text = int(m["a"]), m["b"]
        b = int(b_text) if len(b_text) == 4 else a - a % 100 + int(b_text)
        if not 1000 <= a < b <= 2999 or b - a > 200:
            return None
        return [
            (m.start("a"), m.end("a"), _year(m["a"], a, relative=False)),
            (m.start("b"), m.end("b"), _year(m["b"], b, relative=False)),
        ]
    for sep in _SEPARATOR.finditer(stripped):
        left_start = _LEAD_WORDS.match(stripped)
        ls = left_start.end() if left_start else 0
        left, right = stripped[ls : sep.start()], stripped[sep.end() :]
        if not left.strip() or not right.strip():
            continue
        right_m = _normalise_one(right, ref, tense)
        if not right_m.resolved:
            continue
        left_m = _normalise_one(left, ref, tense)
        right_year = _EXPLICIT_YEAR.search(right)
        if right_year and (not left_m.resolved or left_m.relative):
            borrowed = _normalise_one(f"{left} {right_year[1]}", ref, tense)
            if borrowed.resolved and not borrowed.relative:
                left_m = replace(borrowed, text=left)
        if not left_m.resolved and re.fullmatch(r"\d{1,2}(?:st|nd|rd|th)?", left.strip()):
            continue
        if (
            left_m.resolved
            and left_m.granularity == "day"
            and re.fullmatch(r"\d{1,2}(?:st|nd|rd|th)?(?:,? \d{4})?", right.strip())
        ):
            continue  # handled below: "March 3-5" (right is a bare day)
        if left_m.resolved and right_m.resolved:
            return [(ls, sep.start(), left_m), (sep.end(), len(stripped), right_m)]
    # "March 3-5", "March 3 and 4, 2012": the second day borrows the month (and year).
    if m := re.match(
        r"^(?P<left>.*?" + _MONTH + r"\.? \d{1,2}(?:st|nd|rd|th)?)\s*(?:-|–|and|to|through)\s*"
        r"(?P<day>\d{1,2})(?:st|nd|rd|th)?(?P<year>,? \d{4})?$",
        stripped.lower(),
    ):
        year = m["year"] or ""
        left_m = _normalise_one(stripped[: m.end("left")] + year, ref, tense)
        if left_m.resolved and left_m.start is not None:
            first = date.fromisoformat(left_m.start)
            try:
                second = first.replace(day=int(m["day"]))
            except ValueError:
                return None
            day_text = stripped[m.start("day") : m.end("day")]
            right_m = _day(day_text, second, left_m.relative, left_m.note)
            return [
                (0, m.end("left"), replace(left_m, text=stripped[: m.end("left")])),
                (m.start("day"), len(stripped), replace(right_m, text=stripped[m.start("day") :])),
            ]
    return None


def _normalise_spanned(
    text: str, offset: int, ref: date | None, tense: str, depth: int = 0
) -> list[DateMention]:
    single = _normalise_one(text, ref, tense)
    if not single.resolved:
        parts = _split(text, ref, tense)
        if parts:
            return [replace(m, text=text[s:e], span=(offset + s, offset + e)) for s, e, m in parts]
        if single.note == NOTE_UNPARSABLE and depth == 0:
            # The model's span may start too early ("the firm six months ago"): the shortest
            # cut of up to three leading words that resolves is the mention.
            words = [m.start() for m in re.finditer(r"\S+", text)]
            for cut in words[1:4]:
                inner = _normalise_spanned(text[cut:], offset + cut, ref, tense, depth + 1)
                if any(m.resolved for m in inner):
                    return inner
    return [replace(single, span=(offset, offset + len(text)))]


def normalise_mentions(
    texts: Iterable[str], reference: date | datetime | None, tense: str = UNKNOWN
) -> list[DateMention]:
    """Normalise several mentions against the same publication date; a phrase naming several
    dates gives one mention per date (their ``span`` is within the phrase)."""
    ref = _as_date(reference)
    out: list[DateMention] = []
    for text in texts:
        out.extend(_normalise_spanned(text, 0, ref, tense))
    return out


# --------------------------------------------------------------------------- tense of a sentence

Token = tuple[int, str, str]  # (character offset, text, Penn Treebank tag or "")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FUTURE_MODALS = frozenset({"will", "'ll", "shall", "wo", "would"})
_FUTURE_INTENT = _words(
    """going plans plan planned planning intends intend intended expects expect expected
    scheduled due set aims aim aimed hopes hope poised slated likely is are am"""
)
_AUXILIARIES = _words("""is are am 's 're 'm has have 've do does be being been get gets""")
_HAVE = frozenset({"has", "have", "had", "'ve", "'d"})
_BE_PRESENT = frozenset({"is", "are", "am", "'s", "'re", "'m"})
_SCHEDULED = frozenset({"set", "scheduled", "planned", "slated", "due", "expected", "booked"})
_DETERMINERS = _words(
    """the a an this that these those his her its their our my your some any heavy bad poor
    high low"""
)
_IRREGULAR_PAST = _words(
    """was were had did said told went came took made saw gave found began fell rose sold
    bought won lost left met held paid spent built became grew brought thought felt kept led
    ran sent stood struck wrote spoke broke chose drove flew forgot knew meant rang sang sat
    shot slept stole swore taught threw understood woke wore got hit cut put quit shut beat
    bore caught dealt drew fought fled forbade froze hung hid laid lay lent lit rode rose
    sank slid sprang stuck stung strove swam swung tore withdrew wound overtook undertook"""
)
_NOT_PAST_ED = _words(
    """need feed speed bed seed red shed embed hundred indeed breed proceed succeed exceed weed
    greed steed deed reed bleed tweed"""
)
_PRESENT_WORDS = frozenset({"is", "are", "am", "says", "has", "have", "remains", "remain"})


def _marker(tokens: Sequence[Token], i: int) -> str | None:
    """The tense token ``i`` marks, if it is a verb that has one."""
    _, word_raw, tag = tokens[i]
    word = word_raw.lower().replace("\u2019", "'")
    nxt = tokens[i + 1][1].lower() if i + 1 < len(tokens) else ""
    nxt_tag = tokens[i + 1][2] if i + 1 < len(tokens) else ""
    after = tokens[i + 2] if i + 2 < len(tokens) else None
    if word in _FUTURE_MODALS and (tag in ("MD", "") or word in ("will", "'ll", "shall")):
        if word == "would":
            return FUTURE if nxt not in _HAVE else PAST
        return FUTURE
    prev = tokens[i - 1][1].lower().replace("\u2019", "'") if i > 0 else ""
    if word in _SCHEDULED and nxt in ("for", "on") and prev not in ("was", "were", "had"):
        return FUTURE  # "the vote is set for Tuesday", "talks are scheduled for May"
    if word in _FUTURE_INTENT and nxt == "to" and after is not None:
        a_word, a_tag = after[1].lower(), after[2]
        if a_tag == "VB" or (not a_tag and a_word.isalpha() and a_word not in _DETERMINERS):
            return FUTURE
    if prev in _BE_PRESENT and (tag in ("VBD", "VBN") or (not tag and word.endswith("ed"))):
        return PRESENT  # a present passive ("is closed", "are expected")
    if tag:
        if tag == "VBD":
            return PAST
        if tag == "VBN":
            back = [tokens[j][1].lower() for j in range(max(0, i - 3), i)]
            return PAST if any(w in _HAVE for w in back) else None
        if tag in ("VBZ", "VBP"):
            if word in _AUXILIARIES and nxt_tag.startswith("VB") and nxt_tag not in ("VBZ", "VBP"):
                return None  # an auxiliary: the verb after it says
            return PRESENT
        if tag == "MD":
            return PRESENT
        if tag == "VBG" and i > 0 and tokens[i - 1][1].lower() in ("is", "are", "am", "'s", "'re"):
            return PRESENT
        return None
    # Without tags: word lists.
    if word in _IRREGULAR_PAST:
        return PAST
    if (
        word.endswith("ed")
        and len(word) > 4
        and word.isalpha()
        and word not in _NOT_PAST_ED
        and prev not in ("is", "are", "am", "be", "been", "being", "was", "were", "to", "the", "a")
    ):
        return PAST
    if word in _PRESENT_WORDS:
        if word in ("has", "have") and nxt.endswith(("ed", "en")):
            return PAST
        return PRESENT
    return None


def sentence_tense(tokens: Sequence[Token], start: int, end: int) -> str:
    """The tense nearest to the characters ``start``-``end`` among ``tokens`` (one sentence):
    the closest verb group that marks one (earlier ones win ties), or ``""``."""
    best: tuple[int, int, str] | None = None
    inside = [k for k, tok in enumerate(tokens) if start <= tok[0] < end]
    first = inside[0] if inside else bisect.bisect_left([t[0] for t in tokens], start)
    last = inside[-1] if inside else first - 1
    for i in range(len(tokens)):
        if start <= tokens[i][0] < end:
            continue
        tense = _marker(tokens, i)
        if tense is None:
            continue
        distance = first - i if i < first else i - last
        key = (distance, 0 if i < first else 1, tense)
        if best is None or key[:2] < best[:2]:
            best = key
    return best[2] if best else UNKNOWN


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z])|\n+")
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*|['’](?:ll|d|s|re|ve|m)\b|\d+")


def _sentence_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in _SENTENCE_END.finditer(text)]


def _simple_tokens(text: str) -> list[Token]:
    out: list[Token] = []
    for m in _WORD.finditer(text):
        word = m.group(0)
        # "won't" -> "wo" "n't", as spaCy splits it; "he'll" -> "he" "'ll"
        if word.lower().endswith(("'ll", "’ll")):
            out.append((m.start(), word[:-3], ""))
            out.append((m.end() - 3, "'ll", ""))
        elif word.lower() in ("won't", "won’t"):
            out.append((m.start(), "wo", ""))
        else:
            out.append((m.start(), word, ""))
    return out


_PART_OF_DAY_AFTER = re.compile(r"\s+(?:morning|afternoon|evening|night)\b", re.I)
_ENDS_WITH_DAY = re.compile(
    r"\b(?:" + "|".join(sorted(_WEEKDAYS, key=len, reverse=True)) + r"|yesterday|tomorrow|today)"
    r"\.?$",
    re.I,
)
_TEMPORAL_LEAD = (
    r"(?:on|at|over|before|after|since|until|till|by|for|around|during|through|throughout|"
    r"in|this|last|next)\s+"
)
_HOLIDAY_IN_TEXT = re.compile(
    r"\b"
    + _TEMPORAL_LEAD
    + r"(?P<span>(?:(?:this|last|next)\s+)?(?:"
    + "|".join(
        sorted(
            (re.escape(k).replace("'", "['’]") for k in (*_FIXED_HOLIDAYS, *_MOVABLE_HOLIDAYS)),
            key=len,
            reverse=True,
        )
    )
    + r")(?:,?\s+\d{4})?)\b",
    re.I,
)
_SEASON_IN_TEXT = re.compile(
    r"\b(?:(?:in|during|over|through|throughout|by|until|since|before|after|for)\s+"
    r"(?P<a>(?:(?:the|early|late)\s+)?(?:spring|summer|autumn|winter|fall))"
    r"|(?P<b>(?:this|last|next)\s+(?:spring|summer|autumn|winter|fall)))\b(?!\s+of\b)(?!-)",
    re.I,
)


def _lexicon_spans(text: str, taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Holidays and seasons the model did not tag ("over Christmas", "in the autumn"), by
    their temporal use after a preposition or this/last/next; never over a tagged span."""
    found: list[tuple[int, int]] = []
    for m in _HOLIDAY_IN_TEXT.finditer(text):
        if m["span"][0].isupper() or m["span"].split()[0].lower() in ("this", "last", "next"):
            found.append(m.span("span"))
    for m in _SEASON_IN_TEXT.finditer(text):
        found.append(m.span("a") if m["a"] else m.span("b"))
    return [(s, e) for s, e in found if not any(s < te and ts < e for ts, te in taken)]


def _with_part_of_day(text: str, s: int, e: int) -> int:
    """The end of a day mention, taking a part of the day that follows ("Saturday" "night")."""
    if _ENDS_WITH_DAY.search(text[s:e]) and (m := _PART_OF_DAY_AFTER.match(text, e)):
        return m.end()
    return e


def mentions_in_text(
    text: str,
    dates: Iterable[tuple[int, int]],
    reference: date | datetime | None,
    tokens: Sequence[Token] | None = None,
    *,
    times: Iterable[tuple[int, int]] = (),
) -> list[DateMention]:
    """Date mentions found at the character spans ``dates`` of ``text`` (spaCy DATE entities),
    each with its span, resolved against ``reference`` by the tense of its sentence.

    ``tokens`` are (offset, text, tag) for the whole text (spaCy's ``tag_``); without them the
    text is split into words and tense is found from word lists. ``times`` are TIME entities:
    kept only when they resolve to a date ("Friday night", "this morning"); clock times are
    not date mentions."""
    ref = _as_date(reference)
    dated = [(s, _with_part_of_day(text, s, e)) for s, e in dates]
    timed = [(s, e) for s, e in times if not any(s < de and ds < e for ds, de in dated)]
    extra = _lexicon_spans(text, dated + timed)
    wanted = [(s, e, True) for s, e in dated] + [(s, e, False) for s, e in (*timed, *extra)]
    if not wanted:
        return []
    toks = list(tokens) if tokens is not None else _simple_tokens(text)
    offsets = [t[0] for t in toks]
    starts = _sentence_starts(text)
    out: list[DateMention] = []
    for s, e, keep_unresolved in sorted(wanted):
        phrase = text[s:e]
        k = bisect.bisect_right(starts, s) - 1
        sent_start = starts[k]
        sent_end = starts[k + 1] if k + 1 < len(starts) else len(text)
        lo, hi = bisect.bisect_left(offsets, sent_start), bisect.bisect_left(offsets, sent_end)
        tense = sentence_tense(toks[lo:hi], s, e)
        for mention in _normalise_spanned(phrase, s, ref, tense):
            if mention.resolved or keep_unresolved:
                out.append(mention)
    return out


class DocDates:
    """The DATE and TIME entity spans and the token tags of one text, gathered from its spaCy
    docs (a long text goes through the model in several consecutive parts), for
    ``mentions_in_text``."""

    __slots__ = ("_pos", "dates", "times", "tokens")

    def __init__(self) -> None:
        self.dates: list[tuple[int, int]] = []
        self.times: list[tuple[int, int]] = []
        self.tokens: list[Token] = []
        self._pos = 0

    def add(self, text: str, part: str, doc: Any) -> None:
        """Add the spaCy ``doc`` of ``part``, the next piece of ``text``."""
        offset = text.find(part, self._pos)
        if offset < 0:
            offset = self._pos
        self._pos = offset + len(part)
        for ent in doc.ents:
            if ent.label_ == "DATE":
                self.dates.append((offset + ent.start_char, offset + ent.end_char))
            elif ent.label_ == "TIME":
                self.times.append((offset + ent.start_char, offset + ent.end_char))
        # All tokens: a holiday or season the model missed is found in the text later, and
        # the tense of its sentence is needed then too.
        self.tokens.extend((offset + t.idx, t.text, t.tag_) for t in doc)

    def mentions(self, text: str, reference: date | datetime | None) -> list[DateMention]:
        return mentions_in_text(text, self.dates, reference, self.tokens, times=self.times)


# --------------------------------------------------------------------------- timestamps


class Stamp(NamedTuple):
    """A parsed publication timestamp."""

    day: date  # the day where it was published (local to its offset)
    iso: str  # normalised: "YYYY-MM-DD", or "YYYY-MM-DDTHH:MM:SS+HH:MM" when a zone was given
    offset: timedelta | None  # the UTC offset, when given
    has_time: bool

    @property
    def instant(self) -> datetime | None:
        if self.offset is None or not self.has_time:
            return None
        return datetime.fromisoformat(self.iso)


_ISO_STAMP = re.compile(
    r"^(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,]\d+)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?|UTC|GMT)?)?$",
    re.I,
)


def _offset(zone: str | None) -> timedelta | None:
    if not zone:
        return None
    if zone.upper() in ("Z", "UTC", "GMT"):
        return timedelta(0)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 14 or minutes > 59:
        raise ValueError("offset out of range")
    return sign * timedelta(hours=hours, minutes=minutes)


def _stamp(dt: datetime, offset: timedelta | None, has_time: bool) -> Stamp:
    day = dt.date()
    if offset is None or not has_time:
        return Stamp(day, day.isoformat(), None, has_time)
    aware = dt.replace(tzinfo=timezone(offset))
    return Stamp(day, aware.isoformat(timespec="seconds"), offset, True)


def parse_timestamp(value: str) -> Stamp | None:
    """A publication timestamp as pages and feeds write it: ISO 8601 (with or without a time and
    an offset), RFC 2822 ("Thu, 07 Nov 2024 09:42:00 GMT"), or an unambiguous written date
    ("March 4, 2025", "4 March 2025"). The time is kept only with its offset: a local time
    without a zone keeps its day only. None for anything else."""
    value = " ".join(str(value).split())
    if not value or len(value) > 64:
        return None
    if m := _ISO_STAMP.match(value):
        y, mo, d, hh, mm, ss, zone = m.groups()
        try:
            dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
            off = _offset(zone)
        except ValueError:
            return None
        return _stamp(dt, off, hh is not None)
    if re.match(r"^[A-Za-z]{3},? \d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}", value):
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None:
            off = parsed.utcoffset()
            return _stamp(parsed.replace(tzinfo=None), off, True)
    mention = _normalise_one(value, None, UNKNOWN)
    if mention.resolved and mention.granularity == "day" and not mention.relative:
        return Stamp(date.fromisoformat(mention.start or ""), mention.start or "", None, False)
    return None


_YEAR_MONTH = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def parse_published(
    value: object, *, earliest: date = date(1800, 1, 1), today: date | None = None
) -> str | None:
    """A publication date given with the input, normalised, or None when it is not a date.

    Accepts ISO 8601 ("2025-03-04", "2025-03", "2025", "2025-03-04T10:00:00+01:00"),
    RFC 2822, and unambiguous written dates ("March 4, 2025" -> "2025-03-04"). Refuses
    ambiguous numeric dates ("03/04/2025"), relative words ("soon", "yesterday") and dates
    after tomorrow or before ``earliest``."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    latest = (today or datetime.now(UTC).date()) + timedelta(days=1)
    if m := _YEAR_MONTH.match(text):
        year, month = int(m[1]), int(m[2] or 1)
        if not 1 <= month <= 12:
            return None
        if not earliest.year <= year or date(year, month, 1) > latest:
            return None
        return text
    stamp = parse_timestamp(text)
    if stamp is None or not earliest <= stamp.day <= latest:
        return None
    return stamp.iso
