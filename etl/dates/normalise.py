"""One mention normalised: the project's rules first, dateparser only for what no rule knows; a
phrase naming several dates split into one mention per date."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime
from functools import lru_cache

from etl.dates.dateparser_adapter import dateparser_fallback
from etl.dates.holidays import rule_holiday
from etl.dates.rules_days import (
    rule_age,
    rule_ago,
    rule_clock_time,
    rule_day_words,
    rule_month_names,
    rule_numeric,
    rule_unit_relative,
    rule_weekday,
    rule_weekend,
)
from etl.dates.rules_periods import (
    HALF_PATTERN,
    rule_decade_century,
    rule_fiscal,
    rule_quarter,
    rule_season,
    rule_year,
)
from etl.dates.rules_timeml import rule_duration_set, rule_multiple, rule_unresolvable
from etl.dates.timex import (
    NOTE_UNPARSABLE,
    UNKNOWN,
    Rule,
    RuleContext,
    day_mention,
    unresolved_mention,
    year_mention,
)
from etl.dates.vocabulary import MONTH_PATTERN, LazyPattern, clean_phrase
from etl.record import DateMention

_RULES: tuple[Rule, ...] = (
    rule_fiscal,
    rule_age,
    rule_numeric,
    rule_quarter,
    rule_season,
    rule_decade_century,
    rule_year,
    rule_holiday,
    rule_month_names,
    rule_day_words,
    rule_weekday,
    rule_weekend,
    rule_unit_relative,
    rule_ago,
    rule_duration_set,
    rule_unresolvable,
    rule_multiple,
)

_MODIFIER = LazyPattern(
    r"^(?:the )?(early|late|mid|middle of|end of|beginning of|start of|close of|"
    r"first half of|second half of|first part of|latter part of|later|earlier|"
    r"first (?:few )?(?:days|weeks|months) of|last (?:few )?(?:days|weeks|months) of)"
    r"(?:-| )(?:the )?(.+)$"
)
_BARE_UNIT = LazyPattern(r"^(?:the )?(week|month|quarter|year)$")


def _apply_rules(t: str, text: str, ctx: RuleContext, depth: int = 0) -> DateMention | None:
    if depth < 2 and not HALF_PATTERN.match(t) and (m := _MODIFIER.match(t)):
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


# --------------------------------------------------------------------------- one mention


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a and b else a or b


def as_date(reference: date | datetime | None) -> date | None:
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
    return normalise_one(text, as_date(reference), tense)


@lru_cache(maxsize=16384)
def normalise_one(text: str, ref: date | None, tense: str) -> DateMention:
    t, prefix_note = clean_phrase(text)
    if not t:
        return unresolved_mention(text, NOTE_UNPARSABLE)
    ctx = RuleContext(ref, tense)
    try:
        out = _apply_rules(t, text, ctx)
        if out is None:
            # Not among the rules: a clock time is only the whole phrase, never the rest of an
            # "early"/"late" modifier, as when dateparser was asked about it.
            out = rule_clock_time(t, text, ctx)
        if out is None and any(c.isdigit() for c in t):
            out = dateparser_fallback(t, ref)
            if out is not None:
                out = replace(out, text=text)
    except (ValueError, OverflowError):  # date arithmetic beyond year 1..9999
        return unresolved_mention(text, "out of range")
    if out is None:
        return unresolved_mention(text, NOTE_UNPARSABLE)
    if prefix_note and out.resolved:
        out = replace(out, note=_join(prefix_note, out.note))
    return out


# --------------------------------------------------------------------------- several dates

_YEAR_PAIR = LazyPattern(
    r"^(?P<lead>(?:(?:from|between|in|during|the years?|the)\s+)*)"
    r"(?P<a>\d{4})\s*(?P<sep>-|–|—|/|\bto\b|\bthrough\b|\bthru\b|\buntil\b|\band\b|\bor\b)\s*"
    r"'?(?P<b>\d{4}|\d{2})$",
    re.I,
)
_SEPARATOR = LazyPattern(r"\s+(?:and|or|to|through|thru|until|till)\s+|\s*[-–—/&]\s*", re.I)
_EXPLICIT_YEAR = LazyPattern(r"(?<!\d)(\d{4})$")
_LEAD_WORDS = LazyPattern(r"^(?:(?:from|between)\s+)+", re.I)

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
            (m.start("a"), m.end("a"), year_mention(m["a"], a, relative=False)),
            (m.start("b"), m.end("b"), year_mention(m["b"], b, relative=False)),
        ]
    for sep in _SEPARATOR.finditer(stripped):
        left_start = _LEAD_WORDS.match(stripped)
        ls = left_start.end() if left_start else 0
        left, right = stripped[ls : sep.start()], stripped[sep.end() :]
        if not left.strip() or not right.strip():
            continue
        right_m = normalise_one(right, ref, tense)
        if not right_m.resolved:
            continue
        left_m = normalise_one(left, ref, tense)
        right_year = _EXPLICIT_YEAR.search(right)
        if right_year and (not left_m.resolved or left_m.relative):
            borrowed = normalise_one(f"{left} {right_year[1]}", ref, tense)
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
        r"^(?P<left>.*?"
        + MONTH_PATTERN
        + r"\.? \d{1,2}(?:st|nd|rd|th)?)\s*(?:-|–|and|to|through)\s*"
        r"(?P<day>\d{1,2})(?:st|nd|rd|th)?(?P<year>,? \d{4})?$",
        stripped.lower(),
    ):
        year = m["year"] or ""
        left_m = normalise_one(stripped[: m.end("left")] + year, ref, tense)
        if left_m.resolved and left_m.start is not None:
            first = date.fromisoformat(left_m.start)
            try:
                second = first.replace(day=int(m["day"]))
            except ValueError:
                return None
            day_text = stripped[m.start("day") : m.end("day")]
            right_m = day_mention(day_text, second, left_m.relative, left_m.note)
            return [
                (0, m.end("left"), replace(left_m, text=stripped[: m.end("left")])),
                (m.start("day"), len(stripped), replace(right_m, text=stripped[m.start("day") :])),
            ]
    return None


def normalise_spanned(
    text: str, offset: int, ref: date | None, tense: str, depth: int = 0
) -> list[DateMention]:
    single = normalise_one(text, ref, tense)
    if not single.resolved:
        parts = _split(text, ref, tense)
        if parts:
            return [replace(m, text=text[s:e], span=(offset + s, offset + e)) for s, e, m in parts]
        if single.note == NOTE_UNPARSABLE and depth == 0:
            # The model's span may start too early ("the firm six months ago"): the shortest
            # cut of up to three leading words that resolves is the mention.
            words = [m.start() for m in re.finditer(r"\S+", text)]
            for cut in words[1:4]:
                inner = normalise_spanned(text[cut:], offset + cut, ref, tense, depth + 1)
                if any(m.resolved for m in inner):
                    return inner
    return [replace(single, span=(offset, offset + len(text)))]


def normalise_mentions(
    texts: Iterable[str], reference: date | datetime | None, tense: str = UNKNOWN
) -> list[DateMention]:
    """Normalise several mentions against the same publication date; a phrase naming several
    dates gives one mention per date (their ``span`` is within the phrase)."""
    ref = as_date(reference)
    out: list[DateMention] = []
    for text in texts:
        out.extend(normalise_spanned(text, 0, ref, tense))
    return out
