"""The project's rules for periods longer than a month: fiscal years, quarters and halves, seasons,
decades, centuries and years."""

from __future__ import annotations

import re

from etl.dates.timex import (
    NOTE_FISCAL,
    NOTE_UNPARSABLE,
    SEASON_CODES,
    RuleContext,
    abstract_mention,
    century_mention,
    decade_mention,
    half_bounds,
    half_mention,
    no_ref_mention,
    occurrence_year,
    quarter_bounds,
    quarter_mention,
    season_bounds,
    season_mention,
    tense_direction,
    unresolved_mention,
    year_mention,
)
from etl.dates.vocabulary import DECADE_WORDS, ORDINAL_PATTERN, WHICH, LazyPattern, ordinal_value
from etl.record import DateMention

_FISCAL = LazyPattern(
    r"^(?:the )?(?:(first|second|third|fourth|1st|2nd|3rd|4th)[- ]quarter of |q([1-4]) )?"
    r"(?:fiscal(?:[- ]year)?|fy) ?'?(\d{4}|\d{2})"
    r"(?:'s? (first|second|third|fourth|1st|2nd|3rd|4th)[- ]quarter)?$"
)
_FISCAL_Q_FIRST = LazyPattern(r"^(?:fiscal |fy ?)?q([1-4]) (?:fiscal |fy ?)'?(\d{4}|\d{2})$")


def rule_fiscal(t: str, text: str, ctx: RuleContext) -> DateMention | None:
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
        return unresolved_mention(
            text, "fiscal period without a year: its dates depend on the organisation"
        )
    year = int(year_text) if len(year_text) == 4 else 2000 + int(year_text)
    if len(year_text) == 2 and ctx.ref is not None and year > ctx.ref.year + 10:
        year -= 100
    value = f"FY{year:04d}" + (f"-Q{q}" if q else "")
    return abstract_mention(text, value, "quarter" if q else "year", False, NOTE_FISCAL)


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
_QUARTER = LazyPattern(
    r"^(?:the )?(?:(this|last|next|current|the current|previous) )?"
    r"(?:q([1-4])|(first|second|third|fourth|1st|2nd|3rd|4th|final)[- ]quarter)"
    r"(?:,? (?:of )?(?:(\d{4})|(this|last|next) year))?$"
)
_QUARTER_YEAR_FIRST = LazyPattern(
    r"^(\d{4}) q([1-4])$|^(\d{4})'s (first|second|third|fourth) quarter$"
)
HALF_PATTERN = LazyPattern(
    r"^(?:the )?(first|second|1st|2nd|back|latter) half(?: of)?"
    r"(?: (\d{4})| (?:the|this) year| last year| next year)?$|^h([12]) (\d{4})$|^(\d{4}) h([12])$"
)


def rule_quarter(t: str, text: str, ctx: RuleContext) -> DateMention | None:
    note = "calendar quarter assumed"
    if m := _QUARTER_YEAR_FIRST.match(t):
        if m[1]:
            return quarter_mention(text, int(m[1]), int(m[2]), relative=False, note=note)
        return quarter_mention(text, int(m[3]), _QUARTER_WORDS[m[4]], relative=False, note=note)
    if m := HALF_PATTERN.match(t):
        if m[3]:
            return half_mention(text, int(m[4]), int(m[3]), relative=False)
        if m[6]:
            return half_mention(text, int(m[5]), int(m[6]), relative=False)
        h = 1 if m[1] in ("first", "1st") else 2
        if m[2]:
            return half_mention(text, int(m[2]), h, relative=False)
        if ctx.ref is None:
            return no_ref_mention(text)
        year = ctx.ref.year + (
            -1 if t.endswith("last year") else 1 if t.endswith("next year") else 0
        )
        if t.endswith(("year", "last year", "next year")):
            return half_mention(text, year, h, relative=True)
        found = occurrence_year(
            ctx.ref, lambda y: half_bounds(y, h), tense_direction(ctx.tense, "period")
        )
        if found is None:
            return unresolved_mention(text, "ambiguous: half without a year", relative=True)
        return half_mention(
            text, found, h, relative=True, note="year from the tense of the sentence"
        )
    m = _QUARTER.match(t)
    if not m:
        return None
    q = int(m[2]) if m[2] else _QUARTER_WORDS[m[3]]
    if m[4]:
        return quarter_mention(text, int(m[4]), q, relative=False, note=note)
    if ctx.ref is None:
        return no_ref_mention(text)
    if m[5]:
        year = ctx.ref.year + {"this": 0, "last": -1, "next": 1}[m[5]]
        return quarter_mention(text, year, q, relative=True, note=note)
    which = m[1]
    if which in ("this", "current", "the current"):
        return quarter_mention(text, ctx.ref.year, q, relative=True, note=note)
    if which in ("last", "previous"):
        direction = "past"
    elif which == "next":
        direction = "future"
    else:
        direction = tense_direction(ctx.tense, "period")
    found = occurrence_year(ctx.ref, lambda y: quarter_bounds(y, q), direction)
    if found is None:
        return unresolved_mention(text, "ambiguous: quarter without a year", relative=True)
    return quarter_mention(
        text, found, q, relative=True, note=note + "; year from the tense of the sentence"
    )


_SEASON = r"(spring|summer|fall|autumn|winter)"
_SEASON_EXPLICIT = LazyPattern(
    r"^(?:the )?" + _SEASON + r"(?: of)? (\d{4})(?:\s*[-/]\s*(\d{2}|\d{4}))?$"
)
_SEASON_YEAR_FIRST = LazyPattern(r"^(\d{4}) " + _SEASON + "$")
_SEASON_RELATIVE = LazyPattern(
    r"^(?:(this|last|next|the|this past|this coming|the past|the coming|past|coming) )?"
    + _SEASON
    + r"(?: season)?$"
)


def rule_season(t: str, text: str, ctx: RuleContext) -> DateMention | None:
    if m := _SEASON_YEAR_FIRST.match(t):
        t = f"{m[2]} {m[1]}"
    if m := _SEASON_EXPLICIT.match(t):
        code, year = SEASON_CODES[m[1]], int(m[2])
        if m[3]:
            second = int(m[3]) if len(m[3]) == 4 else year - year % 100 + int(m[3])
            if code != "WI" or second != year + 1:
                return unresolved_mention(text, NOTE_UNPARSABLE)
            return season_mention(text, year, code, relative=False)
        if code == "WI":
            return unresolved_mention(text, "ambiguous: winter spans two years")
        return season_mention(text, year, code, relative=False)
    m = _SEASON_RELATIVE.match(t)
    if not m:
        return None
    ref = ctx.ref
    if ref is None:
        return no_ref_mention(text)
    code, which = SEASON_CODES[m[2]], m[1] or ""
    if which == "this":
        year = ref.year - 1 if code == "WI" and ref.month <= 2 else ref.year
        return season_mention(text, year, code, relative=True)
    if WHICH.get(which) == "last":
        year = ref.year
        while season_bounds(year, code)[1] >= ref:
            year -= 1
        return season_mention(text, year, code, relative=True)
    if WHICH.get(which) == "next":
        year = ref.year - 1
        while season_bounds(year, code)[0] <= ref:
            year += 1
        return season_mention(text, year, code, relative=True)
    found = occurrence_year(
        ref, lambda y: season_bounds(y, code), tense_direction(ctx.tense, "period")
    )
    if found is None:
        return unresolved_mention(text, "ambiguous: which season", relative=True)
    return season_mention(text, found, code, relative=True)


_DECADE = LazyPattern(r"^(?:the )?(\d{3})0'?s$")
_DECADE_SHORT = LazyPattern(r"^(?:the )?(?:'|‘)?([1-9])0'?s$")
_DECADE_WORD = LazyPattern(r"^(?:the )?(" + "|".join(DECADE_WORDS) + r")$")
_CENTURY = LazyPattern(r"^(?:the )?" + ORDINAL_PATTERN + r"[- ]century$")
_CENTURY_RELATIVE = LazyPattern(r"^(this|last|next|the current) century$")


def rule_decade_century(t: str, text: str, ctx: RuleContext) -> DateMention | None:
    if m := _DECADE.match(t):
        first = int(m[1]) * 10
        if first % 100 == 0:
            return unresolved_mention(text, "ambiguous: decade or century")
        if first < 1000:
            return unresolved_mention(text, NOTE_UNPARSABLE)
        return decade_mention(text, first, relative=False)
    tens: int | None = None
    if m := _DECADE_SHORT.match(t):
        tens = int(m[1])
    elif m := _DECADE_WORD.match(t):
        tens = DECADE_WORDS[m[1]]
    ref = ctx.ref
    if tens is not None:
        if ref is None:
            return no_ref_mention(text)
        first = ref.year - ref.year % 100 + tens * 10
        if first > ref.year:
            first -= 100
        if first <= ref.year <= first + 9:
            return unresolved_mention(text, "ambiguous: century not stated", relative=True)
        return decade_mention(
            text, first, relative=True, note="century inferred from publication date"
        )
    if m := _CENTURY.match(t):
        n = ordinal_value(m[1])
        if not 2 <= n <= 30:
            return unresolved_mention(text, NOTE_UNPARSABLE)
        return century_mention(text, n, relative=False)
    if m := _CENTURY_RELATIVE.match(t):
        if ref is None:
            return no_ref_mention(text)
        offset = {"this": 0, "the current": 0, "last": -1, "next": 1}[m[1]]
        return century_mention(text, ref.year // 100 + 1 + offset, relative=True)
    if t in ("this decade", "the current decade"):
        if ref is None:
            return no_ref_mention(text)
        return decade_mention(text, ref.year - ref.year % 10, relative=True)
    return None


_YEAR = LazyPattern(r"^(?:the )?(?:(?:calendar )?year )?(\d{4})$")


def rule_year(t: str, text: str, ctx: RuleContext) -> DateMention | None:
    m = _YEAR.match(t)
    if not m:
        return None
    year = int(m[1])
    if not 1000 <= year <= 2999:
        return unresolved_mention(text, NOTE_UNPARSABLE)
    return year_mention(text, year, relative=False)
