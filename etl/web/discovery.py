"""Finding article URLs: command line / DAG params, list files, RSS/Atom/JSON feeds, sitemaps.

Feeds and sitemaps are fetched with *our* fetcher (address safety, robots.txt, per-host rate)
and only *parsed* with trafilatura: ``trafilatura.feeds.find_links`` for feeds (and
``determine_feed`` when a feed "URL" is a web page announcing its feeds), and
``trafilatura.sitemaps.SitemapObject.process`` for sitemaps (XML, sitemap index, plain text).
trafilatura's own ``find_feed_urls``/``sitemap_search`` download with its own client, which
knows none of our rules, so they are not used.

Every URL is canonicalised with courlan, then de-duplicated, keeping first-seen order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

from courlan import check_url, clean_url, extract_domain, normalize_url
from trafilatura.feeds import FeedParameters, determine_feed, find_links, is_potential_feed
from trafilatura.sitemaps import DETECT_SITEMAP_LINK, SitemapObject, is_plausible_sitemap
from trafilatura.utils import decode_file

from etl.errors import InputRejected
from etl.outcomes import Rejection
from etl.record import RawInput
from etl.settings import Settings
from etl.web.decompress import inflate_gzip
from etl.web.fetcher import Fetcher
from etl.web.protocol import DOCUMENT_TYPES, FetchError, Response, shown_url

LOG = logging.getLogger(__name__)

MAX_SITEMAPS = 50  # sitemap files read per sitemap input (indexes nest; bound the walk)
MAX_FEED_CANDIDATES = 3  # feeds tried when a feed input turns out to be a web page


class InvalidURL(InputRejected, ValueError):
    """The text is not a URL we can fetch; the message is the rejection reason."""


def canonicalize(url: str, *, discovered: bool = False) -> str:
    """courlan's canonical form: lower-case scheme/host, default port and tracking parameters
    dropped, query sorted; the fragment removed (it never reaches the server).

    ``discovered`` (links from feeds/sitemaps): courlan's ``check_url`` filters apply too,
    dropping images, feeds, login pages and the like. URLs a person named are taken as they
    are. courlan refuses IP-address and one-label hosts (127.0.0.1, localhost); those are
    normalised without the filters, and netguard decides later whether they may be fetched."""
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # "Invalid IPv6 URL" and the like
        raise InvalidURL(f"invalid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidURL(f"unsupported URL scheme {parts.scheme or '(none)'!r}")
    if not parts.hostname:
        raise InvalidURL("invalid URL: no host")
    if parts.username is not None or parts.password is not None:
        # Credentials in URLs end up in logs and the index; refuse rather than leak them.
        raise InvalidURL("URL contains a user name or password")
    cleaned = clean_url(text)
    if not cleaned:
        raise InvalidURL("invalid URL")
    if discovered:
        checked = check_url(cleaned, with_nav=True)
        if checked is not None:
            return urldefrag(checked[0])[0]
        if extract_domain(cleaned, fast=True) is not None:
            raise InvalidURL("not an article URL (courlan filters)")
    try:
        return urldefrag(normalize_url(cleaned))[0]
    except ValueError:
        raise InvalidURL("invalid URL") from None


@dataclass
class _Found:
    """URLs in first-seen order without repeats, and rejected inputs."""

    urls: dict[str, None] = field(default_factory=dict)
    rejected: list[RawInput] = field(default_factory=list)

    def add(self, url: str) -> None:
        self.urls.setdefault(url, None)

    def reject(self, key: str, reason: str, url: str = "") -> None:
        self.rejected.append(RawInput(key=key, kind="url", url=url, rejection=Rejection(reason)))

    def add_named(self, raw: str) -> None:
        """A URL a person named (command line, list file, DAG params)."""
        try:
            self.add(canonicalize(raw))
        except InvalidURL as exc:
            self.reject(shown_url(raw.strip()), str(exc))
        except Exception as exc:  # courlan on a URL nobody foresaw: that URL alone
            self.reject(shown_url(raw.strip()), Rejection.of(exc, "invalid URL"))


def read_list_file(path: Path) -> list[str]:
    """URLs of a list file: one a line; blank lines and ``#`` comments skipped."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    return [s for s in (line.split(" #", 1)[0].strip() for line in lines) if s and s[0] != "#"]


def discover_urls(
    urls: Sequence[str],
    settings: Settings,
    *,
    feeds: Sequence[str] = (),
    sitemaps: Sequence[str] = (),
    list_files: Sequence[str] = (),
) -> tuple[list[str], list[RawInput]]:
    """Canonical, de-duplicated article URLs from every source, plus rejected inputs."""
    found = _Found()
    for url in urls:
        found.add_named(url)
    for name in list_files:
        try:
            entries = read_list_file(Path(name))
        except (OSError, UnicodeDecodeError) as exc:
            found.reject(str(name), f"cannot read URL list: {getattr(exc, 'strerror', exc)}")
            continue
        for url in entries:
            found.add_named(url)
    documents = [(u, _read_feed) for u in feeds] + [(u, _read_sitemaps) for u in sitemaps]
    if documents:
        fetcher = Fetcher(settings)
        try:
            workers = max(1, min(settings.fetch_concurrency, len(documents)))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="discover") as pool:
                results = pool.map(lambda job: _guarded(job[1], fetcher, job[0]), documents)
                for links, rejected in results:
                    for link in links:
                        found.add(link)
                    found.rejected.extend(rejected)
        finally:
            fetcher.close()
    LOG.info("discovered %d URLs, %d inputs rejected", len(found.urls), len(found.rejected))
    return list(found.urls), found.rejected


def _guarded(
    read: Callable[[Fetcher, str], tuple[list[str], list[RawInput]]], fetcher: Fetcher, url: str
) -> tuple[list[str], list[RawInput]]:
    """One feed or sitemap input: whatever goes wrong reading it rejects it alone."""
    try:
        return read(fetcher, url)
    except Exception as exc:
        LOG.exception("reading %s failed", shown_url(url))
        what = "feed" if read is _read_feed else "sitemap"
        reason = Rejection.of(exc, f"{what}: failed")
        return [], [RawInput(key=shown_url(url.strip()), kind="url", rejection=reason)]


def _canonical_links(links: Iterable[str], base: str) -> list[str]:
    out: list[str] = []
    for link in links:
        try:
            url = canonicalize(urljoin(base, link.strip()), discovered=True)
        except ValueError:  # InvalidURL, or a link urljoin cannot parse
            continue
        if urlsplit(url).path in ("", "/"):
            continue  # a feed's link to its site's home page is not an article
        out.append(url)
    return out


def _fetch_document(fetcher: Fetcher, url: str) -> tuple[Response, str]:
    """A feed or sitemap, fetched by our rules, as text."""
    response = fetcher.get(url, types=DOCUMENT_TYPES)
    data = response.data
    if data[:2] == b"\x1f\x8b":
        # sitemap.xml.gz: gzip as the file's format, not the transfer encoding; inflate it
        # with the same bound as any body (no gzip bomb).
        data = inflate_gzip(data, fetcher.settings.max_input_bytes)
    return response, decode_file(data)


# --- feeds -----------------------------------------------------------------------------


def _read_feed(fetcher: Fetcher, feed: str) -> tuple[list[str], list[RawInput]]:
    try:
        url = canonicalize(feed)
    except InvalidURL as exc:
        return [], [_invalid(feed, exc)]
    try:
        response, text = _fetch_document(fetcher, url)
        text = text.strip()
    except FetchError as exc:
        return [], [_rejected(url, f"feed: {exc.reason}", exc.final_url)]
    params = _feed_params(response.url)
    if is_potential_feed(text) or text.startswith("{"):
        links = find_links(text, params)
    else:
        links = _links_of_announced_feeds(fetcher, text, params)
    found = [u for u in _canonical_links(links, response.url) if u != url]
    if not found:
        return [], [_rejected(url, "feed: no article URLs found", response.url)]
    LOG.info("feed %s: %d URLs", url, len(found))
    return found, []


def _feed_params(url: str) -> FeedParameters:
    host = urlsplit(url).hostname or ""
    return FeedParameters(url, extract_domain(url, fast=True) or host, url, external=True)


def _links_of_announced_feeds(fetcher: Fetcher, html: str, params: FeedParameters) -> list[str]:
    """A web page given as a feed: follow the feeds it announces (<link rel=alternate>)."""
    for candidate in determine_feed(html, params)[:MAX_FEED_CANDIDATES]:
        try:
            text = _fetch_document(fetcher, candidate)[1].strip()
        except FetchError as exc:
            LOG.info("announced feed %s not usable: %s", candidate, exc.reason)
            continue
        if is_potential_feed(text):
            links = find_links(text, _feed_params(candidate))
            if links:
                return [urljoin(candidate, link) for link in links]
    return []


# --- sitemaps ---------------------------------------------------------------------------


class _Sitemap(SitemapObject):
    """trafilatura's sitemap parsing with our link handling.

    Its own ``handle_link`` drops links whose domain courlan cannot extract (IP-address hosts)
    and fetches nothing itself anyway; here links only need sorting into sitemaps and pages,
    kept to the sitemap's own site."""

    __slots__ = ()

    def handle_link(self, link: str) -> None:
        try:
            absolute = urldefrag(urljoin(self.current_url, link.strip()))[0]
            if absolute == self.current_url or not _same_site(absolute, self.current_url):
                return
        except ValueError:  # a link that is not a URL ("http://[oops"): that link alone
            return
        if DETECT_SITEMAP_LINK.search(absolute):
            self.sitemap_urls.append(absolute)
        else:
            self.urls.append(absolute)


def _same_site(a: str, b: str) -> bool:
    host_a, host_b = urlsplit(a).hostname, urlsplit(b).hostname
    if host_a == host_b:
        return True
    domain_a = extract_domain(a, fast=True)
    return domain_a is not None and domain_a == extract_domain(b, fast=True)


def _read_sitemaps(fetcher: Fetcher, sitemap: str) -> tuple[list[str], list[RawInput]]:
    try:
        root = canonicalize(sitemap)
    except InvalidURL as exc:
        return [], [_invalid(sitemap, exc)]
    queue = _sitemap_start(fetcher, root)
    seen: set[str] = set()
    pages: list[str] = []
    rejected: list[RawInput] = []
    while queue and len(seen) < MAX_SITEMAPS:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        try:
            parsed = _parse_sitemap(fetcher, url)
        except FetchError as exc:
            rejected.append(_rejected(url, f"sitemap: {exc.reason}", exc.final_url))
            continue
        queue.extend(s for s in parsed.sitemap_urls if s not in seen)
        pages.extend(parsed.urls)
    found = _canonical_links(pages, root)
    if not found and not rejected:
        rejected.append(_rejected(root, "sitemap: no article URLs found"))
    LOG.info("sitemap %s: %d URLs from %d sitemap files", root, len(found), len(seen))
    return found, rejected


def _sitemap_start(fetcher: Fetcher, url: str) -> list[str]:
    """A sitemap URL is read as is; a site's home page -> robots.txt Sitemap: lines or
    /sitemap.xml, as trafilatura's sitemap_search does."""
    if urlsplit(url).path not in ("", "/"):
        return [url]
    try:
        listed = fetcher.robots.sitemaps(url)
    except FetchError:
        listed = []
    return listed or [urljoin(url, "/sitemap.xml")]


def _parse_sitemap(fetcher: Fetcher, url: str) -> _Sitemap:
    response, text = _fetch_document(fetcher, url)
    parts = urlsplit(response.url)
    base = f"{parts.scheme}://{parts.netloc}"
    sitemap = _Sitemap(base, parts.hostname or "", [], external=False)
    sitemap.current_url = response.url
    sitemap.content = text
    if not is_plausible_sitemap(response.url, sitemap.content):
        raise FetchError("not a sitemap (neither XML nor a list of URLs)")
    sitemap.process()
    return sitemap


def _rejected(key: str, reason: str, url: str = "") -> RawInput:
    return RawInput(key=key, kind="url", url=url or key, rejection=Rejection(reason))


def _invalid(named: str, exc: InvalidURL) -> RawInput:
    """A feed or sitemap named by a text that is not a URL we can fetch."""
    return RawInput(key=shown_url(named), kind="url", rejection=Rejection(str(exc)))
