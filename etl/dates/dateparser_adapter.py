"""dateparser, asked only about phrases no rule knows: loaded once per process when first needed,
its answers cached per (phrase, publication date)."""

from __future__ import annotations

import re
import sys
from datetime import date, datetime
from functools import lru_cache, partial
from typing import Any

from etl import disk_cache
from etl.dates.timex import (
    NOTE_UNPARSABLE,
    day_mention,
    month_mention,
    no_ref_mention,
    unresolved_mention,
    week_mention,
    year_mention,
)
from etl.dates.vocabulary import LazyPattern
from etl.record import DateMention

_YEAR_IN_TEXT = LazyPattern(r"(?<!\d)(\d{4})(?!\d)")
# The languages dateparser is asked in: all ~400 locales would be tried (and their patterns
# compiled) for every phrase no locale knows, seconds each; the NER model is English anyway,
# and these cover dates written in the common European languages (front matter, feeds).
DATEPARSER_LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl")
_QUANTITY = LazyPattern(
    r"%|\$|€|£|\b(?:percent|per cent|million|billion|trillion|thousand|hundred|dollars?|"
    r"euros?|pounds?|people|points?|km|miles?|kilometres?|kg|tonnes?|times)\b",
    re.I,
)
_DP_PERIODS = {"day": "day", "time": "day", "week": "week", "month": "month", "year": "year"}


def _answers_key() -> str:
    """What dateparser's answers, as kept, depend on: this module, the mention shapes, and
    dateparser's version."""
    from etl import record
    from etl.dates import timex

    return disk_cache.fingerprint([sys.modules[__name__], timex, record], ["dateparser"])


# dateparser's answers kept across processes (``etl.disk_cache``): a worker that meets only
# phrases asked before never loads dateparser.
_MENTIONS = disk_cache.Memo("dateparser-mentions", _answers_key)
_STRICT_DAYS = disk_cache.Memo("dateparser-strict-days", _answers_key)


@lru_cache(maxsize=64)
def date_data_parser(base: date) -> Any:
    """dateparser's parser for one reference date, imported on the first phrase that needs it.

    A missing or broken dateparser raises: taking every phrase for "unparsable" would index
    wrong data silently."""
    try:
        from dateparser.date import DateDataParser  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:  # never silently "unparsable"
        raise RuntimeError(
            f"dateparser is needed to normalise dates but cannot be imported: {exc}"
        ) from exc
    return DateDataParser(
        languages=list(DATEPARSER_LANGUAGES),
        settings={
            "RELATIVE_BASE": datetime(base.year, base.month, base.day),
            "PREFER_DATES_FROM": "current_period",
            "PREFER_DAY_OF_MONTH": "first",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )


@lru_cache(maxsize=8192)
def dateparser_fallback(text: str, ref: date | None) -> DateMention | None:
    """Absolute formats no rule knows and other languages; cached per (phrase, reference).

    Only asked about short phrases with a digit and a letter; a relative answer (no year
    written) is kept only when it is within a year of the reference."""
    if len(text) > 60 or not re.search(r"[^\W\d_]", text) or not re.search(r"\d", text):
        return None
    if _QUANTITY.search(text):
        return None  # "20 million": a number the model took for a date
    return _MENTIONS.remembered(f"{text}\0{ref}", partial(ask_dateparser, text, ref))


def ask_dateparser(text: str, ref: date | None) -> DateMention | None:
    """dateparser's answer for ``text`` as a mention, unfiltered and uncached (the fallback
    filters and caches; the tests compare the project's rules with this)."""
    years = _YEAR_IN_TEXT.findall(text)
    base = ref or date(2000, 1, 1)  # fixed base keeps the function pure
    try:
        data = date_data_parser(base).get_date_data(text)
    except (ValueError, OverflowError):  # odd input; anything else is a broken dateparser
        return None
    parsed = data.date_obj
    period = _DP_PERIODS.get(str(data.period))
    if parsed is None or period is None:
        return None
    d = parsed.date()
    explicit_year = len(years) == 1 and int(years[0]) == d.year
    if len(years) > 1 or (years and not explicit_year):
        return unresolved_mention(text, NOTE_UNPARSABLE)
    relative = not explicit_year
    if relative and ref is None:
        return no_ref_mention(text)
    if relative and ref is not None and abs((d - ref).days) > 366:
        return unresolved_mention(text, NOTE_UNPARSABLE)
    if period == "year":
        return year_mention(text, d.year, relative=relative)
    if period == "month":
        return month_mention(text, d.year, d.month, relative)
    if period == "week":
        return week_mention(text, d, relative)
    return day_mention(text, d, relative)


@lru_cache(maxsize=4096)
def strict_day(text: str) -> date | None:
    """The day a written date names, by dateparser in strict mode (day, month and year all
    written), in ``DATEPARSER_LANGUAGES``; None when it names no full date. Cached."""
    return _STRICT_DAYS.remembered(text, partial(_ask_strict_day, text))


def _ask_strict_day(text: str) -> date | None:
    try:
        import dateparser  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:  # never silently "no date"
        raise RuntimeError(
            f"dateparser is needed to read stated dates but cannot be imported: {exc}"
        ) from exc
    parsed = dateparser.parse(
        text, languages=list(DATEPARSER_LANGUAGES), settings={"STRICT_PARSING": True}
    )
    return None if parsed is None else parsed.date()
