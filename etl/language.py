"""Languages and lengths, for every script.

- ``detect_language``: the language a text is written in, from the text (py3langid); the page's
  declared language only breaks ties for very short texts.
- ``normalise_language``: a declared tag as an ISO 639-1 code ("en_us", "EN-GB", "eng" -> "en").
- ``word_equivalents``: the length of a text in words, for scripts written without spaces too.

Scripts without spaces between words are counted by characters, each character being a fraction
of a word chosen so that the reading time (word-equivalents / 230 a minute, as for English) comes
out right. Silent reading rates measured across languages (Trauzettel-Klosinski & Dietz 2012,
IReST) are about 228 words a minute in English, 255 characters a minute in Chinese and 357 in
Japanese; so a Chinese character is 230/255 ≈ 0.9 of a word and a Japanese one (kanji or kana)
230/357 ≈ 0.65. Thai, Lao, Khmer and Burmese are written without spaces between words, whose
average length is about four letters: four letters (vowel and tone marks not counted) make a
word. Korean separates its words with spaces and is counted like English.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache
from typing import Any

from etl import disk_cache

ENGLISH_WORDS_PER_MINUTE = 230
CHINESE_CHARACTERS_PER_MINUTE = 255
JAPANESE_CHARACTERS_PER_MINUTE = 357
CHINESE_CHARACTER_WORDS = ENGLISH_WORDS_PER_MINUTE / CHINESE_CHARACTERS_PER_MINUTE  # ≈ 0.9
JAPANESE_CHARACTER_WORDS = ENGLISH_WORDS_PER_MINUTE / JAPANESE_CHARACTERS_PER_MINUTE  # ≈ 0.64
LETTERS_PER_WORD_UNSPACED = 4  # Thai, Lao, Khmer, Burmese

# Below this many word-equivalents a text is "very short": the declared language may decide.
SHORT_TEXT_WORDS = 40
# ... when the detector gives the declared language at least this probability.
DECLARED_MIN_PROBABILITY = 0.05

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_KANA = "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_CJK_PUNCT = "\u3000-\u303f\uff00-\uff65\uffe0-\uffef"
_UNSPACED = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"  # Thai, Lao, Burmese, Khmer
_CJK_CHAR = re.compile(f"[{_HAN}{_KANA}]")
_KANA_CHAR = re.compile(f"[{_KANA}]")
_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
_NOT_SPACED = re.compile(f"[{_HAN}{_KANA}{_CJK_PUNCT}{_UNSPACED}]+")


def word_equivalents(text: str) -> int:
    """Words of a text: words between spaces, plus the characters of Chinese, Japanese, Thai,
    Lao, Khmer and Burmese text as word-equivalents (see the module's documentation)."""
    if text.isascii():
        return len(text.split())
    cjk = len(_CJK_CHAR.findall(text))
    unspaced = sum(
        1 for ch in _UNSPACED_CHAR.findall(text) if not unicodedata.category(ch).startswith("M")
    )
    if not cjk and not unspaced:
        return len(text.split())
    rest = _NOT_SPACED.sub(" ", text).split()
    words = sum(1 for token in rest if any(ch.isalnum() for ch in token))
    if cjk:
        japanese = len(_KANA_CHAR.findall(text)) >= 0.05 * cjk
        words += round(cjk * (JAPANESE_CHARACTER_WORDS if japanese else CHINESE_CHARACTER_WORDS))
    words += round(unspaced / LETTERS_PER_WORD_UNSPACED)
    return words


def normalise_language(value: str | None) -> str:
    """An ISO 639-1 code from a declared language tag, or "" when it names no language.

    "en_us", "EN-GB", "en" -> "en"; "zh-Hant-TW" -> "zh"; "deu", "ger" -> "de";
    "x-klingon" -> ""."""
    tag = (value or "").strip().replace("_", "-").split("-")[0].lower()
    if not tag.isalpha() or not 2 <= len(tag) <= 3:
        return ""
    if len(tag) == 2:
        return tag if _iso639().get(tag) else ""
    return _iso639().get(tag, "")


@cache
def _iso639() -> dict[str, str]:
    """Two- and three-letter codes -> the two-letter code (three letters where none exists);
    kept in the disk cache (``etl.disk_cache``): pycountry takes 0.05 s to load them."""
    key = disk_cache.fingerprint([sys.modules[__name__]], ["pycountry"])
    return disk_cache.cached("iso639-codes", key, _build_iso639)


def _build_iso639() -> dict[str, str]:
    import pycountry

    codes: dict[str, str] = {}
    for lang in pycountry.languages:
        two = getattr(lang, "alpha_2", "")
        three = getattr(lang, "alpha_3", "")
        best = two or three
        for code in (two, three, getattr(lang, "bibliographic", "")):
            if code:
                codes[code] = best
    return codes


def detect_language(text: str, declared: str = "") -> str:
    """The ISO 639-1 code of the language the text is written in ("" when it cannot be told).

    The text decides. Only for a very short text (under ``SHORT_TEXT_WORDS`` words) does the
    page's declared language break the tie, when the detector finds it plausible at all."""
    sample = text[:5000]
    if not any(ch.isalpha() for ch in sample):
        return normalise_language(declared)
    ranked = _identifier().rank(sample)
    detected = _to_639_1(str(ranked[0][0])) if ranked else ""
    wanted = normalise_language(declared)
    if wanted and wanted != detected and word_equivalents(text) < SHORT_TEXT_WORDS:
        probability = {_to_639_1(str(lang)): float(p) for lang, p in ranked}
        if probability.get(wanted, 0.0) >= DECLARED_MIN_PROBABILITY:
            return wanted
    return detected


def _to_639_1(code: str) -> str:
    return _iso639().get(code.lower(), code.lower())


@cache
def _identifier() -> Any:
    """py3langid's identifier; its model takes about 0.4 s of a core to unpack, so it is kept
    unpacked in the disk cache (``etl.disk_cache``) for the next processes."""
    key = disk_cache.fingerprint([sys.modules[__name__]], ["py3langid", "numpy"])
    return disk_cache.cached("langid-identifier", key, _build_identifier)


def _build_identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
