"""The words dates are written with (numbers, months, weekdays, ordinals) as regular expressions,
and the cleanup of a phrase before the rules."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any


class LazyPattern:
    """A regular expression compiled on first use, once per process: importing the package
    compiles nothing, so a run without date mentions to parse never pays for its ~60 patterns."""

    __slots__ = ("_compiled", "_flags", "_source")

    def __init__(self, source: str, flags: int = 0) -> None:
        self._source = source
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    def compiled(self) -> re.Pattern[str]:
        # Two threads may both compile it the first time: the same pattern, so no harm.
        if self._compiled is None:
            self._compiled = re.compile(self._source, self._flags)
        return self._compiled

    # Each method reaches the compiled pattern without a further call once it exists: these
    # run for every rule tried on every mention.
    def match(self, string: str, pos: int = 0) -> re.Match[str] | None:
        return (self._compiled or self.compiled()).match(string, pos)

    def fullmatch(self, string: str) -> re.Match[str] | None:
        return (self._compiled or self.compiled()).fullmatch(string)

    def search(self, string: str) -> re.Match[str] | None:
        return (self._compiled or self.compiled()).search(string)

    def finditer(self, string: str) -> Iterator[re.Match[str]]:
        return (self._compiled or self.compiled()).finditer(string)

    def findall(self, string: str) -> list[Any]:
        return (self._compiled or self.compiled()).findall(string)

    def sub(self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0) -> str:
        return (self._compiled or self.compiled()).sub(repl, string, count=count)


# --------------------------------------------------------------------------- vocabulary

NUMBER_WORDS = {
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
NUM_PATTERN = r"(\d{1,3}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")"

MONTHS = {
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
MONTH_PATTERN = r"(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"

WEEKDAYS = {
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
WEEKDAY_PATTERN = r"(" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")\.?"
PARTS_OF_DAY = {
    "morning": "MO",
    "afternoon": "AF",
    "evening": "EV",
    "night": "NI",
    "overnight": "NI",
    "noon": "",
    "midday": "",
    "lunchtime": "",
}
PART_OF_DAY_PATTERN = r"(?:\s+(morning|afternoon|evening|night|noon|midday|lunchtime|overnight))?"

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
ORDINAL_PATTERN = (
    r"(\d{1,2}(?:st|nd|rd|th)|"
    + "|".join(sorted((re.escape(k) for k in _ORDINALS), key=len, reverse=True))
    + r")"
)

DECADE_WORDS = {
    "twenties": 2,
    "thirties": 3,
    "forties": 4,
    "fifties": 5,
    "sixties": 6,
    "seventies": 7,
    "eighties": 8,
    "nineties": 9,
}

WHICH = {
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
WHICH_PATTERN = r"(?:(this past|this coming|the past|the coming|last|next|this|past|coming) )?"


def number_value(token: str) -> int:
    return int(token) if token.isdigit() else NUMBER_WORDS[token]


def ordinal_value(token: str) -> int:
    if token[0].isdigit():
        return int(token[:-2])
    return _ORDINALS[token]


# --------------------------------------------------------------------------- text cleanup

_LEADING = LazyPattern(
    r"^(?:in|on|at|during|throughout|of|over|for|within|from|between|"
    r"by|since|until|till|through|before|after|as of|as early as|as late as|"
    r"as recently as|no later than|not until|sometime in|some time in|"
    r"around|about|circa|c\.|approximately|roughly)\s+"
)
_BOUNDARY = frozenset(
    {"by", "since", "until", "till", "through", "before", "after", "no later than", "not until"}
)
_APPROX = frozenset({"around", "about", "circa", "c.", "approximately", "roughly"})
_ABBREV_END = LazyPattern(r"\b(?:c|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.$")


def clean_phrase(text: str) -> tuple[str, str]:
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
