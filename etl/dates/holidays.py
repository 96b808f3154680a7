"""Holidays by name (fixed and movable feasts), placed by the tense of their sentence."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, timedelta

from etl.dates.timex import (
    RuleContext,
    day_mention,
    no_ref_mention,
    occurrence_year,
    tense_direction,
    unresolved_mention,
)
from etl.dates.vocabulary import WHICH, WHICH_PATTERN, LazyPattern
from etl.record import DateMention

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


FIXED_HOLIDAYS: dict[str, tuple[int, int]] = {
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
MOVABLE_HOLIDAYS: dict[str, Callable[[int], date]] = {
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
    (re.escape(k) for k in (*FIXED_HOLIDAYS, *MOVABLE_HOLIDAYS)), key=len, reverse=True
)
_HOLIDAY = LazyPattern(
    r"^" + WHICH_PATTERN + r"(" + "|".join(_HOLIDAY_NAMES) + r")(?:,? (?:of )?(\d{4}))?$"
)


def _holiday_date(name: str, year: int) -> date:
    if name in FIXED_HOLIDAYS:
        month, day = FIXED_HOLIDAYS[name]
        return date(year, month, day)
    return MOVABLE_HOLIDAYS[name](year)


def rule_holiday(t: str, text: str, ctx: RuleContext) -> DateMention | None:
    m = _HOLIDAY.match(t.replace("\u2019", "'"))
    if not m:
        return None
    name = m[2]
    note = "US date" if name in ("mother's day", "father's day", "thanksgiving") else ""
    if m[3]:
        return day_mention(text, _holiday_date(name, int(m[3])), relative=False, note=note)
    ref = ctx.ref
    if ref is None:
        return no_ref_mention(text)
    which = WHICH.get(m[1] or "", "")
    if which == "this":
        return day_mention(text, _holiday_date(name, ref.year), relative=True, note=note)

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
        direction = tense_direction(ctx.tense, "period")
        found = occurrence_year(ref, bounds, direction)
        if found is None:
            return unresolved_mention(text, "ambiguous: which year", relative=True)
        year = found
    return day_mention(text, _holiday_date(name, year), relative=True, note=note)
