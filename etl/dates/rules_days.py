"""The project's rules for days, weeks and months: numeric dates, month names,
yesterday/today/tomorrow, weekdays, weekends, "last week", "N days ago" and ages."""

from __future__ import annotations

from datetime import date, timedelta

from etl.dates.timex import (
    FUTURE,
    NOTE_AGE,
    PAST,
    UNKNOWN,
    RuleContext,
    abstract_mention,
    day_mention,
    decade_mention,
    month_bounds,
    month_mention,
    no_ref_mention,
    occurrence_year,
    quarter_mention,
    tense_direction,
    unresolved_mention,
    week_mention,
    weekend_mention,
    weekend_of,
    year_mention,
)
from etl.dates.vocabulary import (
    MONTH_PATTERN,
    MONTHS,
    NUM_PATTERN,
    PART_OF_DAY_PATTERN,
    PARTS_OF_DAY,
    WEEKDAY_PATTERN,
    WEEKDAYS,
    WHICH,
    WHICH_PATTERN,
    LazyPattern,
    number_value,
)
from etl.record import DateMention

# --------------------------------------------------------------------------- rules


_AGE = LazyPattern(
    r"^(?:aged? (?:of )?)?" + NUM_PATTERN + r"[- ](?:years?|months?|weeks?|days?)[- ]old$"
    r"|^(?:the )?age of " + NUM_PATTERN + "$"
)
_AGE_ANY = LazyPattern(
    r"\b(?:years?|months?|weeks?|days?)[- ]old\b|\bage of\b|\baged\b|-year-old|\bbirthday\b"
)


def rule_age(t: str, text: str, ctx: RuleContext) -> DateMention | None:
    if m := _AGE.match(t):
        unit = "Y" if "year" in t else "M" if "month" in t else "W" if "week" in t else "D"
        return abstract_mention(
            text, f"P{number_value(m[1] or m[2])}{unit}", "duration", False, NOTE_AGE
        )
    if _AGE_ANY.search(t):
        return unresolved_mention(text, NOTE_AGE)
    return None


_NUMERIC_ISO = LazyPattern(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_NUMERIC_DMY = LazyPattern(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})$")
_NUMERIC_SHORT = LazyPattern(r"^\d{1,2}[/.]\d{1,2}$")
_YEAR_DASH = LazyPattern(r"^(\d{4})-(\d{2})$")


def rule_numeric(t: str, text: str, ctx: RuleContext) -> DateMention | None:
    if m := _NUMERIC_ISO.match(t):
        return _safe_day(text, int(m[1]), int(m[2]), int(m[3]), relative=False)
    if m := _NUMERIC_DMY.match(t):
        a, b, y = int(m[1]), int(m[2]), m[3]
        if len(y) == 2:
            return unresolved_mention(text, "ambiguous: two-digit year")
        if a <= 12 and b <= 12 and a != b:
            return unresolved_mention(text, "ambiguous: day/month order")
        day, month = (a, b) if a > 12 else (b, a)
        return _safe_day(text, int(y), month, day, relative=False)
    if _NUMERIC_SHORT.match(t):
        return unresolved_mention(text, "ambiguous: numeric date without a year")
    if m := _YEAR_DASH.match(t):
        y, tail = int(m[1]), int(m[2])
        if tail == (y + 1) % 100:
            return None  # "2024-25": two years, one mention each (see _split)
        if 1 <= tail <= 12:
            return month_mention(text, y, tail, relative=False)
        return None
    return None


def _safe_day(
    text: str, y: int, m: int, d: int, relative: bool, note: str = "", part: str = ""
) -> DateMention:
    try:
        return day_mention(text, date(y, m, d), relative, note, part)
    except ValueError:
        return unresolved_mention(text, "invalid date")


_OPT_WD = r"(?:" + WEEKDAY_PATTERN + r",? )?"
_DAYNUM = r"(?:the )?(\d{1,2})(?:st|nd|rd|th)?"
_MDY = LazyPattern(
    r"^"
    + _OPT_WD
    + MONTH_PATTERN
    + r",? "
    + _DAYNUM
    + r"(?:,? (\d{4}))?"
    + PART_OF_DAY_PATTERN
    + "$"
)
_DMY = LazyPattern(
    r"^"
    + _OPT_WD
    + _DAYNUM
    + r" (?:of )?"
    + MONTH_PATTERN
    + r"(?:,? (\d{4}))?"
    + PART_OF_DAY_PATTERN
    + "$"
)
_MY = LazyPattern(r"^" + MONTH_PATTERN + r",? (?:of )?(\d{4})$")
_M = LazyPattern(r"^" + WHICH_PATTERN + MONTH_PATTERN + "$")
_DAY_ONLY = LazyPattern(r"^(?:the )?\d{1,2}(?:st|nd|rd|th)$")


def rule_month_names(t: str, text: str, ctx: RuleContext) -> DateMention | None:
    parts: tuple[str | None, str, str, str | None, str | None] | None = None
    if m := _MDY.match(t):
        parts = (m[1], m[2], m[3], m[4], m[5])
    elif m := _DMY.match(t):
        parts = (m[1], m[3], m[2], m[4], m[5])
    ref = ctx.ref
    if parts is not None:
        wd, mon, day, yr, part_word = parts
        month, dnum = MONTHS[mon], int(day)
        part = PARTS_OF_DAY.get(part_word or "", "")
        if yr is not None:
            out = _safe_day(text, int(yr), month, dnum, relative=False, part=part)
        else:
            if ref is None:
                return no_ref_mention(text)
            day_mention = _day_without_year(text, ref, month, dnum, wd, ctx.tense, part)
            return (
                day_mention if day_mention is not None else unresolved_mention(text, "invalid date")
            )
        if wd is not None and out.start and date.fromisoformat(out.start).weekday() != WEEKDAYS[wd]:
            return unresolved_mention(text, "weekday does not match date")
        return out
    if m := _MY.match(t):
        return month_mention(text, int(m[2]), MONTHS[m[1]], relative=False)
    if m := _M.match(t):
        if ref is None:
            return no_ref_mention(text)
        which, month = WHICH.get(m[1] or "", ""), MONTHS[m[2]]
        if which == "last":
            year = ref.year if month < ref.month else ref.year - 1
            return month_mention(text, year, month, relative=True)
        if which == "next":
            year = ref.year if month > ref.month else ref.year + 1
            return month_mention(text, year, month, relative=True)
        if which == "this":
            return month_mention(text, ref.year, month, relative=True, note="year of publication")
        found = occurrence_year(
            ref, lambda y: month_bounds(y, month), tense_direction(ctx.tense, "period")
        )
        if found is None:
            return unresolved_mention(text, "ambiguous: which year", relative=True)
        return month_mention(
            text, found, month, relative=True, note="year from the tense of the sentence"
        )
    if _DAY_ONLY.match(t):
        return unresolved_mention(text, "ambiguous: day of month without a month")
    return None


def _day_without_year(
    text: str, ref: date, month: int, dnum: int, wd: str | None, tense: str, part: str
) -> DateMention | None:
    def bounds(y: int) -> tuple[date, date] | None:
        try:
            d = date(y, month, dnum)
        except ValueError:
            return None
        if wd is not None and d.weekday() != WEEKDAYS[wd]:
            return None  # a weekday with the date picks the year it falls on
        return d, d

    found = occurrence_year(ref, bounds, tense_direction(tense, "day"))
    if found is not None and wd is not None and abs(found - ref.year) > 1:
        found = None  # the weekday fits only a year far from the publication date
    if found is None and wd is not None:
        return unresolved_mention(text, "weekday does not match date", relative=True)
    if found is None:
        return None
    note = "year from the weekday" if wd else "year from the tense of the sentence"
    return day_mention(text, date(found, month, dnum), relative=True, note=note, part=part)


_DAY_WORDS = LazyPattern(
    r"^(?:(the day before yesterday|the day after tomorrow|today|tonight|yesterday|tomorrow|"
    r"last night|this morning|this afternoon|this evening|this evening's))"
    + PART_OF_DAY_PATTERN
    + "$"
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


def rule_day_words(t: str, text: str, ctx: RuleContext) -> DateMention | None:
    m = _DAY_WORDS.match(t)
    if not m:
        return None
    if ctx.ref is None:
        return no_ref_mention(text)
    offset, part = _DAY_OFFSETS[m[1]]
    part = PARTS_OF_DAY.get(m[2] or "", "") or part
    return day_mention(text, ctx.ref + timedelta(days=offset), relative=True, part=part)


_WEEKDAY_RE = LazyPattern(
    r"^(?:(this|last|next|this past|this coming|the past|the coming|past|coming) )?"
    + WEEKDAY_PATTERN
    + PART_OF_DAY_PATTERN
    + "$"
)


def rule_weekday(t: str, text: str, ctx: RuleContext) -> DateMention | None:
    m = _WEEKDAY_RE.match(t)
    if not m:
        return None
    ref = ctx.ref
    if ref is None:
        return no_ref_mention(text)
    which, target = WHICH.get(m[1] or "", ""), WEEKDAYS[m[2]]
    part = PARTS_OF_DAY.get(m[3] or "", "")
    ahead = (target - ref.weekday()) % 7  # 0..6 days forward
    if which == "last":
        delta = ahead - 7
    elif which == "next":
        delta = ahead or 7
    else:
        direction = tense_direction(ctx.tense, "day")
        if which == "this" and ctx.tense == UNKNOWN:
            direction = "closest"
        if direction == "past":
            delta = ahead - 7 if ahead else 0
        elif direction == "future":
            delta = ahead
        else:
            delta = ahead if ahead <= 3 else ahead - 7
    return day_mention(text, ref + timedelta(days=delta), relative=True, part=part)


_WEEKEND = LazyPattern(r"^(?:the |this |this past |this coming )?weekend$")


def rule_weekend(t: str, text: str, ctx: RuleContext) -> DateMention | None:
    if not _WEEKEND.match(t):
        return None
    if ctx.ref is None:
        return no_ref_mention(text)
    ref = ctx.ref
    if "past" in t or ctx.tense == PAST:
        this_sat = weekend_of(ref)[0]
        d = this_sat if this_sat <= ref else this_sat - timedelta(weeks=1)
        return weekend_mention(text, d, relative=True)
    if "coming" in t or ctx.tense == FUTURE or t == "this weekend":
        return weekend_mention(text, ref, relative=True)
    return unresolved_mention(text, "ambiguous: which weekend", relative=True)


_UNIT_RELATIVE = LazyPattern(
    r"^(this|current|the current|last|this past|next|this coming)"
    r" (week|weekend|month|quarter|year)$"
)


def rule_unit_relative(t: str, text: str, ctx: RuleContext) -> DateMention | None:
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
        return unresolved_mention(text, "ambiguous: which weekend", relative=True)
    ref = ctx.ref
    if ref is None:
        return no_ref_mention(text)
    if unit == "week":
        return week_mention(text, ref + timedelta(weeks=offset), relative=True)
    if unit == "weekend":
        if which == "this past":
            return rule_weekend("this past weekend", text, ctx)
        return weekend_mention(text, ref + timedelta(weeks=offset), relative=True)
    if unit == "month":
        y, mo = divmod(ref.year * 12 + ref.month - 1 + offset, 12)
        return month_mention(text, y, mo + 1, relative=True)
    if unit == "quarter":
        y, q = divmod(ref.year * 4 + (ref.month - 1) // 3 + offset, 4)
        return quarter_mention(text, y, q + 1, relative=True, note="calendar quarter assumed")
    return year_mention(text, ref.year + offset, relative=True)


_AGO = LazyPattern(
    r"^" + NUM_PATTERN + r" (day|week|month|year|decade)s? (ago|earlier today|from now|hence)$"
)


def rule_ago(t: str, text: str, ctx: RuleContext) -> DateMention | None:
    m = _AGO.match(t)
    if not m:
        return None
    ref = ctx.ref
    if ref is None:
        return no_ref_mention(text)
    n = number_value(m[1]) * (1 if m[3] in ("from now", "hence") else -1)
    unit = m[2]
    try:
        if unit == "day":
            return day_mention(text, ref + timedelta(days=n), relative=True)
        if unit == "week":
            return week_mention(text, ref + timedelta(weeks=n), relative=True)
        if unit == "month":
            y, mo = divmod(ref.year * 12 + ref.month - 1 + n, 12)
            return month_mention(text, y, mo + 1, relative=True)
        if unit == "decade":
            return decade_mention(text, (ref.year + 10 * n) // 10 * 10, relative=True)
        return year_mention(text, ref.year + n, relative=True)
    except (ValueError, OverflowError):
        return unresolved_mention(text, "out of range", relative=True)


# A clock time alone ("9 a.m.", "11:45pm"): the reference day, the value dateparser gave it
# before this rule existed; kept so, without loading dateparser for the commonest TIME entity.
# Applied by normalise_one after the other rules, where dateparser was asked before.
_CLOCK_TIME = LazyPattern(r"^(1[0-2]|0?[1-9])(?:[:.][0-5]\d)? ?(?:a\.?m|p\.?m)\.?$")


def rule_clock_time(t: str, text: str, ctx: RuleContext) -> DateMention | None:
    if not _CLOCK_TIME.match(t):
        return None
    if ctx.ref is None:
        return no_ref_mention(text)
    return day_mention(text, ctx.ref, relative=True)
