"""Titles without the site's name: "Heat pumps sell out - Solarserver" -> "Heat pumps sell out".

Pages often append (or prepend) their site's name to the title, after a separator (" - ",
" | ", " – ", " — ", " · ", " • ", " :: ", " / ", ": "). A segment at either end is removed when
it is the site's name:

- the name the page states (og:site_name, application-name, twitter:site, the JSON-LD
  publisher or website name, trafilatura's sitename), or
- its host ("solarserver.de", "Reuters" for reuters.com, "BBC News" for bbc.co.uk, "NYT" or
  "The New York Times" for nytimes.com: a segment that starts with the host's name, or whose
  initials are it), or
- the page's section (article:section, the categories), after the site's name,

and the rest is still a title (two words or more). A page heading (h1, og:title, JSON-LD
headline) that equals the title without some end segments also decides: "Title | Section |
Site" with h1 "Title" -> "Title". The original title is kept by the caller
(``title_original``).

**Across pages** (``end_segments``, ``strip_repeated``): a segment at the end or the start of
a title (the last or first two, after a separator other than a colon) that the titles of at
least two other pages of the same site also carry at that end is the site's name or a section
label ("Heat pumps sell out | Solarserver Magazin" beside two more "... | Solarserver
Magazin"), and goes when what is left is still a title: two words with letters ("Part 1 | The
Long Road" keeps its series name). A colon never separates a repeating segment: "Live: ...",
"Analysis: ...", "Ukraine war: ..." are part of their headlines, however often they repeat.
Who counts the pages: ``etl.canon`` (the batch and the ledger).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from typing import Any

_SEPARATOR = re.compile(r"\s+(?:[|\-–—·•/»«:]|::|//)\s+|:\s+")
# The separators of a segment that may repeat across a site's pages: not a colon (a kicker).
_STRONG_SEPARATOR = re.compile(r"\s+(?:[|\-–—·•/»«]|::|//)\s+")
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "or", "ne", "go"})
_DATE = re.compile(r"^(?:\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,2}\.? \w+ \d{4}|\w+ \d{1,2}, \d{4})$")
_MIN_TITLE_WORDS = 2  # what is left must still be a title
_MAX_SITE_WORDS = 6  # a site name is short
REPEAT_DEPTH = 2  # segments from each end that may repeat: "Title | Section | Site"
REPEATS_ON_OTHER_PAGES = 2  # a segment carried by this page and two other pages of its site


def page_hints(tree: Any) -> tuple[list[str], list[str]]:
    """Site names the page states and its headings, read from the parsed page before extraction
    prunes it: (site names, headings)."""
    names: list[str] = []
    headings: list[str] = []
    for meta in tree.xpath("//meta[@content]"):
        key = (meta.get("property") or meta.get("name") or "").lower()
        value = " ".join((meta.get("content") or "").split())
        if not value:
            continue
        if key in {"og:site_name", "application-name", "apple-mobile-web-app-title"}:
            names.append(value)
        elif key == "twitter:site":
            names.append(value.lstrip("@"))
        elif key in {"og:title", "twitter:title"}:
            headings.append(value)
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text_content() or "")
        except (json.JSONDecodeError, ValueError):
            continue
        for item in _json_objects(data):
            kind = item.get("@type")
            if isinstance(item.get("headline"), str):
                headings.append(item["headline"])
            if kind in ("WebSite", "Organization", "NewsMediaOrganization") and isinstance(
                item.get("name"), str
            ):
                names.append(item["name"])
            for key in ("publisher", "isPartOf", "sourceOrganization"):
                part = item.get(key)
                if isinstance(part, dict) and isinstance(part.get("name"), str):
                    names.append(part["name"])
    for h1 in tree.xpath("//h1")[:3]:
        text = " ".join(h1.text_content().split())
        if text:
            headings.append(text)
    return _unique(names), _unique(headings)


def _json_objects(data: Any) -> Iterable[dict[str, Any]]:
    if isinstance(data, dict):
        yield data
        for value in data.values():
            if isinstance(value, list | dict):
                yield from _json_objects(value)
    elif isinstance(data, list):
        for item in data:
            yield from _json_objects(item)


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def split_title(title: str) -> list[str]:
    return [s.strip() for s in _SEPARATOR.split(title) if s.strip()]


def strip_site_name(
    title: str,
    site_names: Sequence[str] = (),
    host: str = "",
    headings: Sequence[str] = (),
    sections: Sequence[str] = (),
) -> str:
    """The title without the site's name at its end or start (see the module's documentation)."""
    title = " ".join(title.split())
    parts = _SEPARATOR.split(title)
    if len(parts) < 2:
        return title
    # A heading of the page that is the title without some end segments decides.
    for heading in sorted(headings, key=len, reverse=True):
        heading = " ".join(heading.split())
        if (
            heading != title
            and len(heading.split()) >= _MIN_TITLE_WORDS
            and _is_end_cut(title, heading)
        ):
            return heading
    keys = _site_keys(site_names, host)
    labels = _host_labels(host)
    section_keys = {_norm(s) for s in sections if s}
    segments = _segments(title)
    # Suffixes first ("Title - Site", "Title | Section | Site"), else prefixes ("Site: Title").
    end = len(segments)
    named = False  # a date goes only with the site's name: "Title – DW – 01/12/2024"
    while end > 1 and (
        (site := _is_site(segments[end - 1][0], keys, labels, section_keys))
        or _DATE.match(segments[end - 1][0].strip())
    ):
        named = named or site
        end -= 1
    if not named:
        end = len(segments)
    start = 0
    if end == len(segments):
        while start < end - 1 and _is_site(segments[start][0], keys, labels, set()):
            start += 1
    if start == 0 and end == len(segments):
        return title
    left = segments[start][1]
    right = segments[end - 1][2]
    result = title[left:right].strip()
    return result if len(result.split()) >= _MIN_TITLE_WORDS else title


def _segments(title: str) -> list[tuple[str, int, int]]:
    """(text, start, end) of each segment between separators."""
    out = []
    pos = 0
    for match in _SEPARATOR.finditer(title):
        out.append((title[pos : match.start()], pos, match.start()))
        pos = match.end()
    out.append((title[pos:], pos, len(title)))
    return [s for s in out if s[0].strip()]


def _is_end_cut(title: str, heading: str) -> bool:
    """The heading is the title with segments cut from its start or end."""
    for seg_title, start, end in _segments(title):
        del seg_title
        if title[:end].strip() == heading or title[start:].strip() == heading:
            return start > 0 or end < len(title)
    # A run of segments in the middle: "Site | Title | Section".
    return any(
        title[a[1] : b[2]].strip() == heading
        for i, a in enumerate(_segments(title))
        for b in _segments(title)[i:]
    )


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return re.sub(r"[^0-9a-z\u00c0-\uffff]+", "", text)


def _site_keys(names: Iterable[str], host: str) -> set[str]:
    keys = set()
    for name in [*names, host]:
        key = _norm(name)
        if key:
            keys.add(key)
            keys.add(_norm(re.sub(r"^the\s+", "", name, flags=re.I)))
    return keys


def _host_labels(host: str) -> set[str]:
    """The names a host goes by: "www.bbc.co.uk" -> {"bbc"}; "solarserver.de" -> {"solarserver"}."""
    labels = [p for p in host.lower().removeprefix("www.").split(".") if p]
    if len(labels) < 2:
        return set(labels)
    labels = labels[:-1]  # the top-level domain
    if len(labels) > 1 and labels[-1] in _SECOND_LEVEL:
        labels = labels[:-1]
    return {_norm(labels[-1])} if labels and len(labels[-1]) >= 2 else set()


def _is_site(segment: str, keys: set[str], labels: set[str], sections: set[str]) -> bool:
    words = segment.split()
    if not words or len(words) > _MAX_SITE_WORDS:
        return False
    key = _norm(segment)
    if not key:
        return True  # a separator's leftovers
    if key in keys or key in sections:
        return True
    for label in labels:
        if key == label:
            return True
        if len(label) >= 3 and (key.startswith(label) or (len(key) >= 4 and label.startswith(key))):
            return len(words) <= 3
        if len(words) >= 2 and label in _initials(words):
            return True
    return False


def _initials(words: Sequence[str]) -> set[str]:
    """ "The New York Times" -> {"tnyt", "nyt", "nytimes", "tnytimes"}."""
    clean = [_norm(w) for w in words if _norm(w)]
    out = {"".join(w[0] for w in clean)}
    if clean and clean[0] == "the":
        out.add("".join(w[0] for w in clean[1:]))
    if len(clean) >= 2:
        out.add("".join(w[0] for w in clean[:-1]) + clean[-1])
        if clean[0] == "the":
            out.add("".join(w[0] for w in clean[1:-1]) + clean[-1])
    return out


# --- across pages of one site ---------------------------------------------------------------


def site_key(host: str, site: str) -> str:
    """The site a page belongs to, for counting its title segments: its host ("www." off),
    else the site's name; "" for a page of no known site (a plain text file)."""
    host = host.strip().lower().removeprefix("www.")
    return host or " ".join(site.split()).casefold()


def segment_key(segment: str) -> str:
    """A segment as counted: case, accents and punctuation folded."""
    return _norm(segment)


def end_segments(title: str) -> list[tuple[str, str]]:
    """(position, key) of each segment of ``title`` that may be a site's name or section: the
    last ``REPEAT_DEPTH`` ("end") and the first ones ("start"), never the whole title. Colons
    separate nothing here."""
    parts = _strong_segments(title)
    if len(parts) < 2:
        return []
    depth = min(REPEAT_DEPTH, len(parts) - 1)
    found = [("end", segment_key(s)) for s in reversed(parts[-depth:])]
    found += [("start", segment_key(s)) for s in parts[:depth]]
    return list(dict.fromkeys((pos, key) for pos, key in found if key))


def strip_repeated(title: str, repeating: Collection[tuple[str, str]]) -> str:
    """``title`` without the end segments (``end_segments``) that are in ``repeating``, from
    the end inwards, then from the start; unchanged when what is left is not a title."""
    title = " ".join(title.split())
    parts = _strong_segments(title)
    if len(parts) < 2 or not repeating:
        return title
    end, start = len(parts), 0
    while end > 1 and len(parts) - end < REPEAT_DEPTH:
        if ("end", segment_key(parts[end - 1])) not in repeating:
            break
        end -= 1
    while start < end - 1 and start < REPEAT_DEPTH:
        if ("start", segment_key(parts[start])) not in repeating:
            break
        start += 1
    if start == 0 and end == len(parts):
        return title
    spans = _strong_spans(title)
    result = title[spans[start][0] : spans[end - 1][1]].strip()
    return result if is_title(result) else title


def is_title(text: str) -> bool:
    """Still a title: ``_MIN_TITLE_WORDS`` words with letters ("Part 1" is none)."""
    return sum(any(ch.isalpha() for ch in w) for w in text.split()) >= _MIN_TITLE_WORDS


def _strong_spans(title: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for match in _STRONG_SEPARATOR.finditer(title):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, len(title)))
    return [(a, b) for a, b in spans if title[a:b].strip()]


def _strong_segments(title: str) -> list[str]:
    title = " ".join(title.split())
    return [title[a:b].strip() for a, b in _strong_spans(title)]
