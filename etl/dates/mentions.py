"""Date mentions found in a text: spaCy's DATE and TIME spans, holidays and seasons it missed, each
resolved by the tense of its sentence."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from etl.dates.holidays import FIXED_HOLIDAYS, MOVABLE_HOLIDAYS
from etl.dates.normalise import as_date, normalise_spanned
from etl.dates.tense import Token, sentence_starts, sentence_tense, simple_tokens
from etl.dates.vocabulary import WEEKDAYS, LazyPattern
from etl.record import DateMention

_PART_OF_DAY_AFTER = LazyPattern(r"\s+(?:morning|afternoon|evening|night)\b", re.I)
_ENDS_WITH_DAY = LazyPattern(
    r"\b(?:" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r"|yesterday|tomorrow|today)"
    r"\.?$",
    re.I,
)
_TEMPORAL_LEAD = (
    r"(?:on|at|over|before|after|since|until|till|by|for|around|during|through|throughout|"
    r"in|this|last|next)\s+"
)
_HOLIDAY_IN_TEXT = LazyPattern(
    r"\b"
    + _TEMPORAL_LEAD
    + r"(?P<span>(?:(?:this|last|next)\s+)?(?:"
    + "|".join(
        sorted(
            (re.escape(k).replace("'", "['’]") for k in (*FIXED_HOLIDAYS, *MOVABLE_HOLIDAYS)),
            key=len,
            reverse=True,
        )
    )
    + r")(?:,?\s+\d{4})?)\b",
    re.I,
)
_SEASON_IN_TEXT = LazyPattern(
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
    ref = as_date(reference)
    dated = [(s, _with_part_of_day(text, s, e)) for s, e in dates]
    timed = [(s, e) for s, e in times if not any(s < de and ds < e for ds, de in dated)]
    extra = _lexicon_spans(text, dated + timed)
    wanted = [(s, e, True) for s, e in dated] + [(s, e, False) for s, e in (*timed, *extra)]
    if not wanted:
        return []
    toks = list(tokens) if tokens is not None else simple_tokens(text)
    offsets = [t[0] for t in toks]
    starts = sentence_starts(text)
    out: list[DateMention] = []
    for s, e, keep_unresolved in sorted(wanted):
        phrase = text[s:e]
        k = bisect.bisect_right(starts, s) - 1
        sent_start = starts[k]
        sent_end = starts[k + 1] if k + 1 < len(starts) else len(text)
        lo, hi = bisect.bisect_left(offsets, sent_start), bisect.bisect_left(offsets, sent_end)
        tense = sentence_tense(toks[lo:hi], s, e)
        for mention in normalise_spanned(phrase, s, ref, tense):
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
