"""TimeML mentions that are not dates: reference words (PRESENT_REF), durations, sets
(frequencies), and what cannot be resolved (anaphoric, vague, several dates)."""

from __future__ import annotations

import re

from etl.dates.timex import (
    NOTE_ANAPHORIC,
    NOTE_DURATION,
    NOTE_IS_DURATION,
    NOTE_IS_SET,
    NOTE_MULTIPLE,
    NOTE_VAGUE,
    RuleContext,
    abstract_mention,
    unresolved_mention,
)
from etl.dates.vocabulary import (
    NUM_PATTERN,
    NUMBER_WORDS,
    WEEKDAY_PATTERN,
    WEEKDAYS,
    LazyPattern,
    number_value,
)
from etl.record import DateMention

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
_DURATION = LazyPattern(
    r"^(?:(?:more than|less than|fewer than|at least|up to|nearly|almost|about|around|over|"
    r"under|some|only|just|another|a further|an additional|roughly|approximately|"
    r"the whole|the entire|an entire|a full|full|the|the past|the last|the next|"
    r"the first|the final|the following|the previous|the coming|past|next|last) )*"
    r"(?:(" + NUM_PATTERN[1:-1] + r"|\d+(?:\.\d+)?|" + _VAGUE_QUANTITY[3:-1] + r"|half an?|a half)"
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
_SET_EVERY = LazyPattern(
    r"^(?:every|each|per) (?:(other) )?(?:" + NUM_PATTERN + r" )?" + _UNIT + r"$"
)
_SET_TIMES = LazyPattern(
    r"^(?:once|twice|thrice|"
    + NUM_PATTERN[1:-1]
    + r" times) (?:a|an|per|every|each) "
    + _UNIT
    + r"$"
)
_SET_WEEKDAY = LazyPattern(
    r"^(?:every |each |on )?(monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday)s$|^(?:every|each) " + WEEKDAY_PATTERN + "$"
)
_FREQ_OTHER = LazyPattern(
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
    elif word in NUMBER_WORDS:
        n = float(NUMBER_WORDS[word])
    else:
        return "X"
    if "and a half" in t:
        n += 0.5
    return f"{n:g}"


def rule_duration_set(t: str, text: str, ctx: RuleContext) -> DateMention | None:
    if t in _REF_WORDS:
        return abstract_mention(text, _REF_WORDS[t], "reference", True, "TimeML " + _REF_WORDS[t])
    if t in _SET_ADVERBS:
        return abstract_mention(text, _SET_ADVERBS[t], "set", False, NOTE_IS_SET)
    if m := _SET_WEEKDAY.match(t):
        day = WEEKDAYS[m[1] or m[2]]
        return abstract_mention(text, f"XXXX-WXX-{day + 1}", "set", False, NOTE_IS_SET)
    if m := _SET_TIMES.match(t):
        return abstract_mention(text, _unit_value(m[1], "1"), "set", False, NOTE_IS_SET)
    if m := _SET_EVERY.match(t):
        n = "2" if m[1] else (f"{number_value(m[2])}" if m[2] else "1")
        return abstract_mention(text, _unit_value(m[3], n), "set", False, NOTE_IS_SET)
    if _FREQ_OTHER.search(t):
        return unresolved_mention(text, NOTE_DURATION)
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
        return abstract_mention(
            text, _unit_value(unit, quantity), "duration", False, NOTE_IS_DURATION
        )
    return None


_ANAPHORIC = LazyPattern(
    r"^(?:(?:the )?(?:next|following|previous|preceding|same|prior|subsequent)|that|those)"
    r" (?:day|night|morning|afternoon|evening|week|weekend|month|year|quarter|season|decade)$"
    r"|^(?:the )?(?:day|night|week|month|year) (?:before|after|earlier|later|prior)$"
    r"|^" + NUM_PATTERN + r" (?:day|week|month|year|decade)s? (?:later|earlier|after|before|prior)$"
    r"|^(?:later|earlier) that (?:day|week|month|year)$"
    r"|^(?:the )?(?:next|following|previous) " + WEEKDAY_PATTERN + "$"
)
_VAGUE = LazyPattern(
    r"^(?:the |that |this |one |some |these |those )?"
    r"(?:day|time|moment|period|era|age|season|week|month|year|"
    r"weekend|night|morning|afternoon|evening|days|times|"
    r"other day|once|someday|then|"
    r"overnight|soon|later|earlier|the time being|modern era|modern times|"
    r"same time|beginning|end|start|middle)$"
)
_VAGUE_AGO = LazyPattern(
    r"^(?:(?:a few|few|several|many|some|a couple of|couple of|a number of|a|an|"
    r"one|two|three|four|five|\d+) )?(?:days?|weeks?|months?|years?|decades?|centuries|century)"
    r" (?:ago|from now)$"
)
_VAGUE_LATER = LazyPattern(
    r"^(?:(?:a few|few|several|many|some|a couple of|couple of|a number of) )?"
    r"(?:days?|weeks?|months?|years?|decades?) (?:earlier|later|before|after)$"
)


def rule_unresolvable(t: str, text: str, ctx: RuleContext) -> DateMention | None:
    if _ANAPHORIC.match(t) or _VAGUE_LATER.match(t):
        return unresolved_mention(text, NOTE_ANAPHORIC)
    if _VAGUE_AGO.match(t):
        return unresolved_mention(text, NOTE_VAGUE)
    if _VAGUE.match(t):
        return unresolved_mention(text, NOTE_VAGUE)
    if re.fullmatch(r"(?:the )?(?:last|next|this|past) decade", t):
        return unresolved_mention(text, "ambiguous: calendar decade or the past ten years")
    if re.fullmatch(
        r"(?:the )?(?:next|following|previous|first|final|last|past) "
        r"(?:day|week|month|year|quarter|night)",
        t,
    ):
        return unresolved_mention(text, NOTE_ANAPHORIC)
    return None


def rule_multiple(t: str, text: str, ctx: RuleContext) -> DateMention | None:
    if re.search(r"\b(?:and|or)\b|&", t):
        return unresolved_mention(text, NOTE_MULTIPLE)
    if re.fullmatch(r"(?:the years? )?\d{4}\s*(?:-|/|to|through|until)\s*(?:\d{2}|\d{4})", t):
        return unresolved_mention(text, NOTE_MULTIPLE)
    return None
