"""Extraction: one ``RawInput`` to an ``Article`` with clean text and metadata.

HTML goes through trafilatura (main text without boilerplate or comments, plus metadata).
Plain text is taken as it is (trafilatura returns nothing for it) and Markdown is rendered and
taken as text; for both a missing title is derived from the text and recorded as derived.
Pure apart from reading the record: no network, no files.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import trafilatura
from lxml import html as lxml_html
from trafilatura.utils import load_html

from etl.dates import parse_published, parse_stated_day
from etl.dates.page_evidence import page_evidence
from etl.dates.pubdate import PublishedDate, choose_published, library_date_params
from etl.decode import NotText, decode
from etl.errors import InputRejected
from etl.language import detect_language, normalise_language
from etl.record import Article, RawInput, Warning_, make_id, text_fingerprint
from etl.titles import page_hints, strip_site_name

# Below this, what a page yields is not an article. Words are word-equivalents: in Chinese,
# Japanese, Thai... characters count (etl.language.word_equivalents), so a complete article in
# a script without spaces is never refused for its script.
MIN_ARTICLE_WORDS = 25
TITLE_MAX_WORDS = 12

log = logging.getLogger(__name__)

# Publication dates: the rule and where dates are read on web pages is etl.dates.pubdate.
_TEXT_DATE_LINE = re.compile(
    r"^\s*(?:published|posted|date|updated|veröffentlicht|publié)\s*(?:on|am|le)?\s*[:\-–]?\s*(.{6,40})$",
    re.I | re.M,
)
# A byline that carries the date: "By Jamie Lindqvist · April 2, 2026".
_BYLINE_DATE_LINE = re.compile(
    r"^\s*by\s+[^·|•–—\n]{2,60}?\s*[·|•–—]\s*(.{6,40}?)\s*$", re.I | re.M
)


class Rejected(InputRejected):
    """This input can never become an article; the message is the recorded reason."""


def extract(raw: RawInput, *, min_words: int = 50) -> Article:
    """The article a raw input holds, or ``Rejected`` with the reason."""
    if raw.rejection:
        raise Rejected(raw.rejection)
    if not raw.data.strip():
        raise Rejected("empty file")
    media_type = raw.media_type or _sniff_media_type(raw.data)
    try:
        # A JSON Lines record's HTML was decoded with the JSON: its bytes are UTF-8 whatever
        # its <meta charset> says.
        decoded = decode(
            raw.data,
            html=media_type == "html" and raw.kind != "jsonl",
            declared=raw.extra.get("charset") or None,
        )
    except NotText as exc:
        raise Rejected(str(exc)) from None
    if media_type == "html":
        article = _from_html(raw, decoded.text)
    else:
        article = _from_text(raw, decoded.text, markdown=media_type == "markdown")
    if decoded.guessed:
        article = article.with_warnings(Warning_.ENCODING_GUESSED)
    return _finish(_with_input_metadata(article, raw), min_words)


def _sniff_media_type(data: bytes) -> str:
    head = data[:2048].lstrip().lower()
    if (
        head.startswith((b"<!doctype html", b"<html", b"<?xml"))
        or b"<body" in head
        or b"<head" in head
    ):
        return "html"
    return "text"


# --- HTML -------------------------------------------------------------------------------------


def _from_html(raw: RawInput, page: str) -> Article:
    tree = load_html(page)
    if tree is None:
        raise Rejected("not an article: the HTML could not be parsed")
    # Read what the page states about its date before trafilatura, which prunes the tree.
    evidence = page_evidence(tree)
    site_names, headings = page_hints(tree)
    link_texts = {" ".join(a.text_content().split()) for a in tree.iter("a")}
    doc = trafilatura.bare_extraction(
        tree,
        url=raw.url or None,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
        date_extraction_params=library_date_params(),
    )
    if doc is None or not (getattr(doc, "text", None) or "").strip():
        raise Rejected("not an article: no main text found (navigation, listing or empty page)")
    meta = doc if isinstance(doc, dict) else {s: getattr(doc, s, None) for s in doc.__slots__}
    text = _clean_text(meta.get("text") or "")
    if _mostly_links(text, link_texts):
        raise Rejected("not an article: the page's text is mostly links (navigation or listing)")
    page_url = meta.get("url") or ""
    canonical = page_url if _is_http(page_url) else ""
    url = raw.url or canonical
    host = (meta.get("hostname") or urlsplit(url).hostname or "").removeprefix("www.")
    site = _clean_line(meta.get("sitename") or "") or host
    title_original = _clean_line(meta.get("title") or "")
    category = _split_list(meta.get("categories"))
    article = replace(
        _new_article(raw, text, canonical_url=canonical),
        title=strip_site_name(
            title_original, [*site_names, site], host, headings=headings, sections=category
        ),
        title_original=title_original,
        description=_clean_line(meta.get("description") or ""),
        url=url,
        host=host,
        site=site,
        author=_split_authors(meta.get("author") or ""),
        category=category,
        tag=_split_list(meta.get("tags")),
        language_declared=_clean_line(meta.get("language") or _html_lang(tree) or ""),
    )
    published = choose_published(meta.get("date"), evidence, url, page)
    return _dated(article, published) if published else article


def _mostly_links(text: str, link_texts: set[str]) -> bool:
    """Link density, the classic boilerplate signal: when most of what extraction kept is
    the text of links, the page is a menu or a listing, not an article."""
    lines = text.splitlines()
    linked = sum(len(line) for line in lines if line in link_texts)
    return linked > 0.5 * max(1, sum(len(line) for line in lines))


def _valid_day(value: str) -> bool:
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return False
    return date(1990, 1, 1) <= day <= datetime.now(UTC).date()


def _html_lang(tree: Any) -> str:
    langs = tree.xpath("/html/@lang")
    return str(langs[0]) if langs else ""


# --- Plain text and Markdown -----------------------------------------------------------------


def _from_text(raw: RawInput, content: str, *, markdown: bool) -> Article:
    front: dict[str, str] = {}
    if markdown:
        front, content = _front_matter(content)
        title, body = _markdown_title_and_text(content)
    else:
        title, body = _title_line(content)
    text = _clean_text(body)
    if not text:
        raise Rejected("not an article: no text")
    bad_url = bool(front.get("url")) and not _is_http(front["url"])
    if bad_url:
        del front["url"]  # not a web address: ignored, never the article's identity
    url = raw.url or front.get("url", "")
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    article = replace(
        _new_article(raw, text, canonical_url=front.get("url", "")),
        title=front.get("title") or title,
        title_original=front.get("title") or title,
        language_declared=front.get("language") or front.get("lang") or "",
        url=url,
        host=host,
        site=front.get("site", "") or host,
        author=_split_authors(front.get("author", "")),
        tag=_split_list(front.get("tags")),
        category=_split_list(front.get("categories")),
        description=front.get("description", ""),
    )
    if bad_url:
        article = article.with_warnings(Warning_.INVALID_METADATA)
    given = front.get("published") or front.get("date")
    if given:
        article = _with_input_date(article, given)
    stated = None if article.published else _stated_date(body)
    if stated:
        article = _dated(article, PublishedDate(stated, "text", "medium"))
    return article


def _title_line(content: str) -> tuple[str, str]:
    """A first line that looks like a title (short, no closing full stop, text follows)."""
    lines = content.strip().splitlines()
    if len(lines) > 1:
        first = lines[0].strip()
        if 0 < len(first.split()) <= 20 and not first.endswith((".", "!", "?", ":", "”", '"')):
            return first.lstrip("# ").strip(), "\n".join(lines[1:])
    return "", content


def _front_matter(content: str) -> tuple[dict[str, str], str]:
    """Simple ``key: value`` YAML front matter, as static site generators write it."""
    if not content.startswith("---\n"):
        return {}, content
    end = content.find("\n---", 4)
    if end < 0:
        return {}, content
    fields = {}
    for line in content[4:end].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip().strip("'\"")
    return fields, content[end + 4 :].lstrip("-\n")


def _markdown_title_and_text(content: str) -> tuple[str, str]:
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark").render(content)
    root = lxml_html.fromstring(f"<div>{rendered}</div>")
    title = ""
    heading = root.find(".//h1")
    if heading is not None:
        title = heading.text_content().strip()
        heading.getparent().remove(heading)
    # Elements only: an HTML comment or processing instruction in the Markdown is no text.
    blocks = [el.text_content().strip() for el in root.iterchildren() if isinstance(el.tag, str)]
    return title, "\n".join(b for b in blocks if b)


def _stated_date(body: str) -> str | None:
    """A 'Published: 4 June 2025' line near the top of a text article."""
    head = "\n".join(body.strip().splitlines()[:6])
    match = _TEXT_DATE_LINE.search(head) or _BYLINE_DATE_LINE.search(head)
    if not match:
        return None
    day = parse_stated_day(match.group(1))
    if day is None:
        return None
    value = day.isoformat()
    return value if _valid_day(value) else None


# --- Metadata given with the input ---------------------------------------------------------


def _with_input_date(article: Article, value: object) -> Article:
    """A publication date given with the input: used when it is a date (source ``input``),
    else ignored with the warning ``invalid_published``; never indexed as it is."""
    published = parse_published(value)
    if published is None:
        log.warning("%s: ignoring the publication date %r: not a date", article.source, value)
        return article.with_warnings(Warning_.INVALID_PUBLISHED)
    return _dated(article, PublishedDate(published, "input", "high"))


def _dated(article: Article, published: PublishedDate) -> Article:
    return replace(
        article,
        published=published.value,
        published_source=published.source,
        published_confidence=published.confidence,
    )


_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")


def _with_input_metadata(article: Article, raw: RawInput) -> Article:
    """``title``, ``published``, ``author``, ``language`` and ``url`` given with a JSON Lines
    record: used as given when valid; a malformed one is ignored with a warning."""
    given = raw.extra.get("metadata")
    if not given:
        return article
    meta = json.loads(given)
    invalid = False
    if "published" in meta:
        article = _with_input_date(article, meta["published"])
    title = meta.get("title")
    if isinstance(title, str) and title.strip():
        title = _clean_line(title)
        article = replace(article, title=title, title_original=title, title_derived=False)
    elif title is not None:
        invalid = True
    author = meta.get("author")
    if isinstance(author, str) and author.strip():
        article = replace(article, author=_split_authors(author))
    elif isinstance(author, list) and author and all(isinstance(a, str) for a in author):
        article = replace(article, author=_unique(_clean_line(a) for a in author))
    elif author is not None:
        invalid = True
    language = meta.get("language")
    if isinstance(language, str) and _LANGUAGE_TAG.fullmatch(language.strip()):
        article = replace(article, language_declared=language.strip())
    elif language is not None:
        invalid = True
    if "url" in meta and not (isinstance(meta["url"], str) and _is_http(meta["url"])):
        invalid = True  # etl.sources kept it out of the record's URL
    if invalid:
        log.warning("%s: ignoring malformed metadata given with the input", article.source)
        article = article.with_warnings(Warning_.INVALID_METADATA)
    return article


# --- Shared -----------------------------------------------------------------------------------


def _new_article(raw: RawInput, text: str, *, canonical_url: str) -> Article:
    content_hash = text_fingerprint(text)
    return Article(
        id=make_id(canonical_url, content_hash),
        source=raw.key,
        source_kind=raw.kind,
        raw_hash=raw.raw_hash,
        text=text,
        content_hash=content_hash,
        canonical_url=canonical_url,
        file_modified=raw.modified,
        fetched_at=raw.extra.get("fetched_at") or None,
    )


def _finish(article: Article, min_words: int) -> Article:
    """The extracted record with its title (derived when missing), its language and the
    warnings about what is weak or missing; ``Rejected`` when the text is too short."""
    words = article.word_count
    if words < MIN_ARTICLE_WORDS:
        raise Rejected(f"not an article: only {words} words of text (minimum {MIN_ARTICLE_WORDS})")
    warnings: list[Warning_] = []
    if words < min_words:
        warnings.append(Warning_.SHORT_TEXT)
    if not article.title:
        article = replace(article, title=derive_title(article.text), title_derived=True)
        warnings.append(Warning_.TITLE_DERIVED)
    if not article.published:
        # Undated stays undated: the file's time (``file_modified``) says when the file was
        # written, not when the article was published.
        warnings.append(Warning_.NO_DATE)
    if not article.author:
        warnings.append(Warning_.NO_AUTHOR)
    # The text says which language it is in; what the page declares only breaks ties for very
    # short texts, and a page that declares another language is flagged.
    language = detect_language(article.text, article.language_declared)
    if not language:
        warnings.append(Warning_.NO_LANGUAGE)
    declared = normalise_language(article.language_declared)
    if declared and language and declared != language:
        warnings.append(Warning_.LANGUAGE_MISMATCH)
    return replace(article, language=language).with_warnings(*warnings)


def derive_title(text: str) -> str:
    """A title from the text's first sentence, at most a dozen words, cut at a word boundary."""
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    words = first.split()
    if len(words) <= TITLE_MAX_WORDS:
        return first.rstrip(".")
    return " ".join(words[:TITLE_MAX_WORDS]).rstrip(",;:") + "…"


def _clean_text(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.replace("\r\n", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def _clean_line(value: str) -> str:
    return " ".join(value.split())


def _split_authors(value: str) -> list[str]:
    parts = re.split(r";|\band\b|&|,(?=\s*[A-Z][a-z]+\s+[A-Z])", value)
    return _unique(_clean_line(p) for p in parts)


def _split_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        value = [value]
    # trafilatura passes a keywords meta tag on as one comma-separated item of its list
    return _unique(_clean_line(part) for v in value for part in re.split(r"[;,]", str(v)))


def _unique(values: Any) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        if v and v.casefold() not in {s.casefold() for s in seen}:
            seen[v] = None
    return list(seen)


def _is_http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def extract_text(raw: RawInput) -> str:
    """The clean text one input yields (``article-etl extract``)."""
    return extract(raw, min_words=0).text
