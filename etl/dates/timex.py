"""TIMEX3 values of date mentions: the notes, the rule context, the builders of each granularity
and which occurrence of a yearless period a tense means."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from etl.record import DateMention

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
class RuleContext:
    """What a date rule needs besides the phrase: the reference date and the sentence's tense."""

    ref: date | None
    tense: str = UNKNOWN


# --------------------------------------------------------------------------- builders


def unresolved_mention(text: str, note: str, relative: bool = False) -> DateMention:
    return DateMention(text, None, "unknown", None, None, relative, False, note)


def no_ref_mention(text: str) -> DateMention:
    return unresolved_mention(text, NOTE_NO_REF, relative=True)


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


def abstract_mention(
    text: str, value: str, granularity: str, relative: bool, note: str
) -> DateMention:
    """A resolved value without calendar bounds (durations, sets, PAST_REF, fiscal years)."""
    return DateMention(text, value, granularity, None, None, relative, True, note)


def day_mention(text: str, d: date, relative: bool, note: str = "", part: str = "") -> DateMention:
    return _span(text, d.isoformat() + (f"T{part}" if part else ""), "day", d, d, relative, note)


def week_mention(text: str, d: date, relative: bool, note: str = "") -> DateMention:
    iso_year, week, weekday = d.isocalendar()
    monday = d - timedelta(days=weekday - 1)
    return _span(
        text, f"{iso_year}-W{week:02d}", "week", monday, monday + timedelta(days=6), relative, note
    )


def weekend_of(d: date) -> tuple[date, date]:
    saturday = d + timedelta(days=5 - d.weekday())
    return saturday, saturday + timedelta(days=1)


def weekend_mention(text: str, d: date, relative: bool, note: str = "weekend") -> DateMention:
    saturday, sunday = weekend_of(d)
    iso_year, week, _ = saturday.isocalendar()
    return _span(text, f"{iso_year}-W{week:02d}-WE", "week", saturday, sunday, relative, note)


def month_bounds(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def month_mention(text: str, year: int, month: int, relative: bool, note: str = "") -> DateMention:
    start, end = month_bounds(year, month)
    return _span(text, f"{year:04d}-{month:02d}", "month", start, end, relative, note)


SEASON_CODES = {"spring": "SP", "summer": "SU", "fall": "FA", "autumn": "FA", "winter": "WI"}
_SEASON_START_MONTH = {"SP": 3, "SU": 6, "FA": 9, "WI": 12}


def season_bounds(year: int, code: str) -> tuple[date, date]:
    if code == "WI":
        return date(year, 12, 1), date(year + 1, 3, 1) - timedelta(days=1)
    first = _SEASON_START_MONTH[code]
    return date(year, first, 1), date(year, first + 3, 1) - timedelta(days=1)


def season_mention(text: str, year: int, code: str, relative: bool, note: str = "") -> DateMention:
    start, end = season_bounds(year, code)
    return _span(text, f"{year:04d}-{code}", "season", start, end, relative, note)


def quarter_bounds(year: int, q: int) -> tuple[date, date]:
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return start, end - timedelta(days=1)


def quarter_mention(text: str, year: int, q: int, relative: bool, note: str = "") -> DateMention:
    start, end = quarter_bounds(year, q)
    return _span(text, f"{year:04d}-Q{q}", "quarter", start, end, relative, note)


def half_bounds(year: int, h: int) -> tuple[date, date]:
    return (
        (date(year, 1, 1), date(year, 6, 30)) if h == 1 else (date(year, 7, 1), date(year, 12, 31))
    )


def half_mention(text: str, year: int, h: int, relative: bool, note: str = "") -> DateMention:
    start, end = half_bounds(year, h)
    return _span(text, f"{year:04d}-H{h}", "half", start, end, relative, note)


def year_mention(text: str, year: int, relative: bool, note: str = "") -> DateMention:
    return _span(text, f"{year:04d}", "year", date(year, 1, 1), date(year, 12, 31), relative, note)


def decade_mention(text: str, first_year: int, relative: bool, note: str = "") -> DateMention:
    return _span(
        text,
        f"{first_year // 10:03d}X",
        "decade",
        date(first_year, 1, 1),
        date(first_year + 9, 12, 31),
        relative,
        note,
    )


def century_mention(text: str, ordinal: int, relative: bool, note: str = "") -> DateMention:
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


def tense_direction(tense: str, kind: str) -> str:
    """past / future / closest, from the sentence's tense. ``kind``: "period" or "day"."""
    if tense == PAST:
        return "past"
    if tense == FUTURE:
        return "future"
    if tense == PRESENT:
        return "closest"
    return "past" if kind == "period" else "closest"


def occurrence_year(ref: date, bounds: Bounds, direction: str) -> int | None:
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


Rule = Callable[[str, str, RuleContext], DateMention | None]
