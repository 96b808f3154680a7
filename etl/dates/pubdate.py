"""The publication date of a web page, where it came from, and how far to trust it.

The rule: **start from the library's own choice and override it only on strong, structured
evidence.** The library is trafilatura's metadata date, which is htmldate run with the page's
URL (``original_date``: the publication date, not the last update; ``extensive_search``).
htmldate is the better generalist: on held-out pages it was right more often (86.5%) than a
fixed ranking of our own sources (82%), because it knows many more places where sites put the
date. It has three blind spots, and only those are corrected here:

1. **It does not know which JSON-LD object is the article.** Its JSON search takes the first
   ``datePublished`` anywhere in the page's scripts (a related article, the web site, a
   photo). We read the page's own article object (``@type`` ``*Article``, ``BlogPosting``,
   ``WebPage``..., top level, in ``@graph`` or ``mainEntity``; never inside
   ``itemListElement``, ``relatedLink``, ``hasPart``, ``isPartOf``, images or videos) and its
   publication meta tags (``article:published_time`` and the like). When they state a date,
   the page's publisher said it explicitly for this page: if the library agrees, that is the
   date (confidence **high**); if it disagrees, the explicit statement wins (**high** when
   two independent statements agree, e.g. JSON-LD and the meta tag, else **medium**) —
   unless the library took a complete date from the URL and the statement is later by more
   than a day (a republication or update written into ``datePublished``: the URL keeps the
   original day), or they differ by exactly one day and the statement is in UTC or has no
   offset (the URL has the publisher's local day; the UTC day is not the day where it was
   published).
2. **It reads dates in sidebars.** With nothing structured, htmldate searches the markup and
   text, in document order, including "related articles", "most read", teasers, navigation,
   the site header's "today" and the footer. When the library's date did not come from the
   URL, the page is searched again without those parts; a date found only there is dropped
   (the page is then undated), another date found in the article is taken instead (**low**).
3. **It invents days.** For a URL with only a year and a month ("/2015/01/") it finds none
   or a wrong one: such a URL gives month granularity ("2015-01", **medium**) unless the
   article itself states a day in that month. And its extensive search does not read AP-style
   dates ("Nov. 30, 2008", "Sept. 4"): it returns January 1 of the year. A January 1 the page
   never states is such a padded year: the date line of the article (read with our own
   parser, etl.dates) is taken instead, else only the year ("2008", **low**).

Confidence, as measured by ``bench/bench_dates.py``: **high** = two independent signals
agree (structured data and the library, or two kinds of structured data); **medium** = one
explicit signal (the URL; a structured statement the library does not share; a date in the
text corroborated by the URL's month); **low** = a date only found in the page's text or
markup. A date given with the input (JSON Lines ``published``, Markdown front matter) is used
as given when valid: source ``input``, **high**.

The library's output stays a day (``outputformat`` ``%Y-%m-%d``): htmldate can format a time
too, but pads "00:00:00" without a zone when it found only a day; times and offsets are taken
from the page's own statements instead.

Time zones: a timestamp stated with an offset keeps it ("2024-11-07T09:42:00+01:00", the day
is the day where it was published); among statements of the same instant the one in the
publisher's own zone (not UTC) is kept. A time without a zone is reduced to its day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from etl.dates.page_evidence import EARLIEST, Evidence, without_asides
from etl.dates.timestamps import Stamp, parse_timestamp

__all__ = [
    "PublishedDate",
    "choose_published",
    "library_date_params",
]

_URL_DATE = re.compile(
    r"/((?:19|20)\d{2})[/_-](0[1-9]|1[0-2])(?:[/_-](0[1-9]|[12]\d|3[01]))?(?:/|$|[_-])"
)


@dataclass(frozen=True, slots=True)
class PublishedDate:
    """The publication date chosen for a page, where it came from and how far to trust it."""

    value: str  # ISO 8601: day, "YYYY-MM", or a timestamp with its offset
    source: str  # input, structured_data, meta, url, text
    confidence: str  # high, medium, low


def library_date_params(today: date | None = None) -> dict[str, Any]:
    """htmldate's settings for trafilatura (``date_extraction_params``): the original
    publication date, not the last update; the full search; nothing after today."""
    today = today or datetime.now(UTC).date()
    return {
        "original_date": True,
        "extensive_search": True,
        "max_date": today.isoformat(),
        "outputformat": "%Y-%m-%d",
    }


# --------------------------------------------------------------------------- the rule


def url_date(url: str) -> tuple[date, bool] | None:
    """The date in a URL's path and whether it has a day (else only a year and a month)."""
    match = _URL_DATE.search(urlsplit(url).path) if url else None
    if not match:
        return None
    year, month, day = int(match.group(1)), int(match.group(2)), match.group(3)
    try:
        return date(year, month, int(day or 1)), day is not None
    except ValueError:
        return None


def _best_stamp(stamps: list[Stamp]) -> Stamp:
    """Among statements of one day: one with a time and offset, the publisher's own zone
    (not UTC) first."""

    def rank(s: Stamp) -> tuple[int, int]:
        return (0 if s.offset is not None else 1, 0 if s.offset else 1)

    return min(stamps, key=rank)


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def choose_published(
    library: str | None,
    evidence: Evidence,
    url: str,
    page: str | None = None,
    *,
    today: date | None = None,
) -> PublishedDate | None:
    """The publication date by the rule of the module docstring. ``library`` is trafilatura's
    metadata date; ``page`` the HTML, searched again without asides when needed."""
    today = today or datetime.now(UTC).date()
    lib = _day(library)
    if lib is not None and not EARLIEST <= lib <= today + timedelta(days=1):
        lib = None
    in_url = url_date(url)
    url_day = in_url[0] if in_url and in_url[1] else None
    statements = list(evidence.structured())
    if statements:
        return _from_statements(lib, statements, url_day)
    if url_day is not None:
        return PublishedDate(url_day.isoformat(), "url", "medium")
    if in_url is not None:  # only a year and a month
        month = in_url[0]

        def in_month(d: date | None) -> bool:
            return d is not None and (d.year, d.month) == (month.year, month.month)

        stated = _search_without_asides(page, today)  # the day, when the article states it
        if not in_month(stated):
            stated = _date_line(page, today)
        if in_month(stated):
            return PublishedDate(str(stated), "text", "medium")
        if in_month(lib) and lib is not None and lib.day != 1:  # day 1: maybe made up
            return PublishedDate(lib.isoformat(), "text", "medium")
        return PublishedDate(f"{month.year:04d}-{month.month:02d}", "url", "medium")
    if lib is None:
        return None
    if any(s.day == lib for s in evidence.generic_meta):
        generic = [s for s in evidence.generic_meta if s.day == lib]
        return PublishedDate(_best_stamp(generic).iso, "meta", "medium")
    if page is None:
        return PublishedDate(lib.isoformat(), "text", "low")
    in_article = _search_without_asides(page, today)
    if in_article is None:
        return None  # the only date was in a sidebar, a teaser list or the site's header
    if (in_article.month, in_article.day) == (1, 1) and not _states_new_year(page, lib.year):
        line = _date_line(page, today)
        if line is not None and line.year == in_article.year:
            return PublishedDate(line.isoformat(), "text", "low")
        return PublishedDate(f"{in_article.year:04d}", "text", "low")  # a year padded with a day
    return PublishedDate(in_article.isoformat(), "text", "low")


def _from_statements(
    lib: date | None, statements: list[tuple[str, Stamp]], url_day: date | None
) -> PublishedDate:
    by_day: dict[date, list[tuple[str, Stamp]]] = {}
    for kind, stamp in statements:
        by_day.setdefault(stamp.day, []).append((kind, stamp))
    publisher = [d for d, items in by_day.items() if any(k in ("jsonld", "meta") for k, _ in items)]
    # The library's day when it is one of them; else the earliest stated (the original).
    day = lib if lib is not None and lib in by_day else min(publisher or by_day)
    items = by_day[day]
    kinds = {k for k, _ in items}
    best = _best_stamp([s for _, s in items])
    source = "structured_data" if kinds & {"jsonld", "microdata"} else "meta"
    if lib is None or lib == day:
        return PublishedDate(best.iso, source, "high")
    # The library disagrees.
    if url_day is not None and lib == url_day:
        if (day - lib).days > 1:
            return PublishedDate(lib.isoformat(), "url", "medium")  # an update in datePublished
        if abs((day - lib).days) == 1 and not best.offset:
            return PublishedDate(lib.isoformat(), "url", "medium")  # UTC day vs the local day
    return PublishedDate(best.iso, source, "high" if len(kinds) > 1 else "medium")


def _search_without_asides(page: str | None, today: date) -> date | None:
    """htmldate's date for the page without its asides (and without the URL)."""
    if not page:
        return None
    from htmldate import find_date
    from trafilatura.utils import load_html

    tree = load_html(page)
    if tree is None:
        return None
    params = library_date_params(today)
    found = find_date(
        without_asides(tree),
        extensive_search=params["extensive_search"],
        original_date=params["original_date"],
        max_date=params["max_date"],
        url="",
    )
    return _day(found)


_MONTH_WORD = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE_IN_LINE = re.compile(
    r"\b" + _MONTH_WORD + r"\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b"
    r"|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH_WORD + r",?\s+\d{4}\b"
    r"|\b\d{4}-\d{2}-\d{2}\b",
    re.I,
)
_LINE_TAGS = ("p", "span", "div", "time", "small", "em", "strong", "address", "li", "h2", "h3")


def _date_line(page: str | None, today: date, lines: int = 30) -> date | None:
    """The first written date among the short lines at the top of the article (a byline,
    "Published ..."), read with our own parser: AP style ("Nov. 30, 2008") included."""
    if not page:
        return None
    from trafilatura.utils import load_html

    tree = load_html(page)
    if tree is None:
        return None
    tree = without_asides(tree)
    roots = tree.xpath("//article") or tree.xpath("//main") or tree.xpath("//body")
    if not roots:
        return None
    seen = 0
    for el in roots[0].iter(*_LINE_TAGS):
        text = " ".join(el.text_content().split())
        if not text or len(text) > 160:
            continue
        seen += 1
        if seen > lines:
            break
        for m in _DATE_IN_LINE.finditer(text):
            stamp = parse_timestamp(m.group(0))
            if stamp is not None and EARLIEST <= stamp.day <= today:
                return stamp.day
    return None


def _states_new_year(page: str, year: int) -> bool:
    """Whether the page writes January 1 of ``year`` (then a January 1 is not made up)."""
    return bool(
        re.search(
            rf"\b(?:jan(?:uary)?\.?\s+1(?:st)?,?\s+{year}|1(?:st)?\s+(?:of\s+)?jan(?:uary)?\.?,?\s+"
            rf"{year}|{year}-01-01)\b",
            page,
            re.I,
        )
    )
