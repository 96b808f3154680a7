"""What a web page states about its publication, read before trafilatura prunes the tree.

Only the page's own article object in JSON-LD, its publication meta tags, microdata and
``<time>`` elements count (never those in sidebars, related lists, navigation or footers:
blind spots 1 and 2 in ``etl.dates.pubdate``); ``without_asides`` is the page without those
parts, searched again when the library's date may have come from them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from etl.dates.timestamps import Stamp, parse_timestamp

__all__ = ["EARLIEST", "Evidence", "page_evidence", "without_asides"]

EARLIEST = date(1990, 1, 1)  # the web's first news pages; htmldate's floor is 1995

# Meta tags that state the publication date of this page.
_PUBLISHED_META = frozenset(
    {
        "article:published_time",
        "og:published_time",
        "og:article:published_time",
        "article.published",
        "datepublished",
        "publishdate",
        "publish-date",
        "publish_date",
        "pubdate",
        "parsely-pub-date",
        "sailthru.date",
        "dc.date.issued",
        "dcterms.issued",
        "citation_publication_date",
        "originalpublicationdate",
    }
)
# Meta tags that may be the publication date or another one (creation, last change).
_GENERIC_META = frozenset({"date", "dc.date", "dcterms.date", "dcterms.created", "created"})

# Class or id words of the parts of a page that are not the article: dates there belong to
# other articles, or to the day the page was viewed.
_ASIDE_WORDS = re.compile(
    r"(?:^|[\s_-])(?:sidebar|side-bar|aside|related|teasers?|recommend\w*|recirc\w*|popular|"
    r"trending|most-(?:read|popular|viewed|shared)|mostread|mostpopular|widgets?|promo\w*|"
    r"newsletter|outbrain|taboola|comments?|latest|rail|more-(?:stories|news|articles|from)|"
    r"also-read|read-more|readmore|next-(?:article|story|post)|prev(?:ious)?-(?:article|story|"
    r"post)|breadcrumbs?|site-header|masthead|top-bar|topbar|ticker|site-footer|navigation|navbar|"
    r"menu|you-may-like|editors-picks|top-stories|headlines)(?:$|[\s_-])",
    re.I,
)
_ASIDE_TAGS = frozenset({"aside", "nav", "footer"})
_ASIDE_ROLES = frozenset({"complementary", "navigation", "contentinfo", "banner"})
_MAIN_TYPES = re.compile(r"Article|Posting|Blog|Page$|^Report$|^CreativeWork$|^Review$")
_NOT_THE_PAGE = frozenset(
    {
        "itemListElement",
        "relatedLink",
        "hasPart",
        "isPartOf",
        "image",
        "video",
        "associatedMedia",
        "thumbnail",
        "publisher",
        "author",
        "creator",
        "mentions",
        "citation",
        "comment",
        "review",
        "about",
        "subjectOf",
        "workExample",
        "breadcrumb",
        "potentialAction",
    }
)


@dataclass(slots=True)
class Evidence:
    """What a page states about its publication, read before trafilatura prunes the tree."""

    jsonld: list[Stamp] = field(default_factory=list)  # the article object's datePublished
    meta: list[Stamp] = field(default_factory=list)  # article:published_time and the like
    generic_meta: list[Stamp] = field(default_factory=list)  # <meta name="date"> and the like
    microdata: list[Stamp] = field(default_factory=list)  # itemprop=datePublished in the article
    time: list[Stamp] = field(default_factory=list)  # <time pubdate> in the article

    def structured(self) -> Iterator[tuple[str, Stamp]]:
        """(kind, stamp) of every explicit statement, the publisher's metadata first."""
        for kind, stamps in (
            ("jsonld", self.jsonld),
            ("meta", self.meta),
            ("microdata", self.microdata),
            ("time", self.time),
        ):
            for stamp in stamps:
                yield kind, stamp


# --------------------------------------------------------------------------- evidence


def page_evidence(tree: Any, today: date | None = None) -> Evidence:
    today = today or datetime.now(UTC).date()
    ev = Evidence()

    def keep(value: str | None, into: list[Stamp]) -> None:
        stamp = parse_timestamp(value or "")
        if stamp is not None and EARLIEST <= stamp.day <= today + timedelta(days=1):
            into.append(stamp)

    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text_content() or "")
        except (json.JSONDecodeError, ValueError):
            continue
        for value in _article_dates(data):
            keep(value, ev.jsonld)
    for meta in tree.xpath("//meta[@property or @name or @itemprop]"):
        key = (meta.get("property") or meta.get("name") or "").strip().lower()
        if key in _PUBLISHED_META:
            keep(meta.get("content"), ev.meta)
        elif key in _GENERIC_META:
            keep(meta.get("content"), ev.generic_meta)
    for el in tree.xpath("//*[@itemprop='datePublished']"):
        if _is_top_level_item(el) and not _in_aside(el):
            keep(el.get("content") or el.get("datetime") or el.text_content(), ev.microdata)
    for el in tree.xpath("//time[@datetime][@pubdate or contains(@class, 'publish')]"):
        if not _in_aside(el):
            keep(el.get("datetime"), ev.time)
    return ev


def _article_dates(data: Any) -> list[str]:
    """datePublished of the page's own article object(s), article types before web pages."""
    found: list[tuple[int, str]] = []

    def visit(node: Any, top: bool) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item, top)
            return
        if not isinstance(node, dict):
            return
        types = node.get("@type")
        names = (
            [types] if isinstance(types, str) else [t for t in types or [] if isinstance(t, str)]
        )
        value = node.get("datePublished")
        if top and isinstance(value, str) and any(_MAIN_TYPES.search(n) for n in names):
            rank = 0 if any(not n.endswith("Page") for n in names) else 1
            found.append((rank, value))
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            if key in node:
                visit(node[key], True)

    visit(data, True)
    if not found:
        return []
    best = min(rank for rank, _ in found)
    return [value for rank, value in found if rank == best]


def _is_top_level_item(el: Any) -> bool:
    """The nearest itemscope around a microdata property is a top-level item (the article),
    not an item nested in it as a property (a related article, a comment)."""
    node = el.getparent()
    while node is not None:
        if node.get("itemscope") is not None:
            return node.get("itemprop") is None
        node = node.getparent()
    return True


def _is_aside(el: Any) -> bool:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in ("html", "body", "main", "article"):
        return False
    if tag in ("header", "footer") and _inside(el, ("article", "main")):
        return False  # the article's own header or footer: its byline, its date
    if tag in _ASIDE_TAGS or tag == "header":
        return True
    if (el.get("role") or "").lower() in _ASIDE_ROLES:
        return True
    words = f"{el.get('class') or ''} {el.get('id') or ''}"
    return bool(words.strip()) and bool(_ASIDE_WORDS.search(words))


def _inside(el: Any, tags: Iterable[str]) -> bool:
    wanted = set(tags)
    node = el.getparent()
    while node is not None:
        if node.tag in wanted:
            return True
        node = node.getparent()
    return False


def _in_aside(el: Any) -> bool:
    node = el
    while node is not None:
        if _is_aside(node) and not _holds_the_article(node):
            return True
        node = node.getparent()
    return False


def _holds_the_article(el: Any) -> bool:
    """A container of the article's title or body is never an aside, whatever its class."""
    return bool(el.xpath(".//h1 | .//article | .//main | self::article | self::main"))


def without_asides(tree: Any) -> Any:
    """``tree`` without sidebars, related-article lists, teasers, navigation, the site header
    and footer, and scripts (in place). The scripts' JSON-LD was read by ``page_evidence``; what
    remains there are other objects' dates (a list of other articles, the web site)."""
    for script in tree.xpath("//script | //noscript | //template | //style"):
        if script.getparent() is not None:
            script.getparent().remove(script)
    for el in list(tree.iter()):
        if not isinstance(el.tag, str) or el.getparent() is None:
            continue
        if _is_aside(el) and not _holds_the_article(el):
            el.getparent().remove(el)
    return tree
