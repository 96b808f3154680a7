"""The tense of a mention's sentence: from spaCy's tags, or from word lists without them."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from etl.dates.timex import FUTURE, PAST, PRESENT, UNKNOWN
from etl.dates.vocabulary import LazyPattern

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


_SENTENCE_END = LazyPattern(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z])|\n+")
_WORD = LazyPattern(r"[A-Za-z]+(?:['’][A-Za-z]+)*|['’](?:ll|d|s|re|ve|m)\b|\d+")


def sentence_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in _SENTENCE_END.finditer(text)]


def simple_tokens(text: str) -> list[Token]:
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
