"""What a fetch is made of: its error, its response, the content types we take, and the rules
every URL and every answer must pass (scheme, size, content type, Retry-After)."""

from __future__ import annotations

import email.utils
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import urlsplit

from etl.errors import InputRejected
from etl.settings import redact_url
from etl.web.netguard import normal_host

# Content types accepted as articles, and the RawInput.media_type each becomes.
ARTICLE_TYPES: Mapping[str, str] = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "text",
}
# Feeds and sitemaps also arrive as XML, JSON Feed, or a gzipped sitemap file.
DOCUMENT_TYPES: Mapping[str, str] = {
    **ARTICLE_TYPES,
    "application/xml": "xml",
    "text/xml": "xml",
    "application/rss+xml": "xml",
    "application/atom+xml": "xml",
    "application/rdf+xml": "xml",
    "application/feed+json": "json",
    "application/json": "json",
    "application/gzip": "gzip",
    "application/x-gzip": "gzip",
}
ACCEPT_ARTICLE = "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8"
ACCEPT_DOCUMENT = (
    "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,"
    "text/html;q=0.8,*/*;q=0.5"
)

REDIRECTS = frozenset({301, 302, 303, 307, 308})
RETRYABLE = frozenset({429, 500, 502, 503, 504})
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)


class FetchError(InputRejected):
    """A fetch ended without a usable body; ``reason`` is the input's rejection text.

    An input rejection whether the cause lasts (404, not an article) or passes (a timeout, a
    503): the page is rejected for this run and the batch goes on; the next run fetches it
    again. The site being down is never a reason to fail and retry the whole task."""

    def __init__(self, reason: str, *, final_url: str = "", host_level: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final_url = final_url
        # About the host, not the resource (blocked address, DNS, refused): when robots.txt
        # fails this way, the page's reason is this, not "robots.txt unreachable".
        self.host_level = host_level


@dataclass(slots=True)
class Response:
    """A final (non-redirect) successful answer, body already read and decoded."""

    url: str
    status: int
    content_type: str = ""
    charset: str = ""
    data: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False


# --- URLs -------------------------------------------------------------------------------


def shown_url(url: str) -> str:
    """``redact_url`` that never raises: a URL too broken to parse ("http://[oops", a port out
    of range) still loses anything that looks like ``user:password@``."""
    try:
        return redact_url(url)
    except ValueError:
        return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@", r"\1", url)


def host_of(url: str) -> str:
    """The rate-limit key: the host name, ports ignored (one machine, one budget)."""
    return normal_host(urlsplit(url).hostname or "")


def check_scheme(url: str) -> None:
    """What every URL fetched must be, the first and every redirect hop alike."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "Invalid IPv6 URL"
        raise FetchError(f"invalid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"unsupported URL scheme {parts.scheme or '(none)'!r}")
    if not parts.hostname:
        raise FetchError("URL has no host")
    if parts.username is not None or parts.password is not None:
        # As etl.web.discovery refuses them: they would end up in logs and in the index.
        raise FetchError("URL contains a user name or password")


def bad_url_reason(url: str) -> str:
    """Why ``url`` cannot be fetched at all, as a rejection reason."""
    try:
        check_scheme(url)
    except FetchError as exc:
        return exc.reason
    return "invalid URL"


# --- answers ----------------------------------------------------------------------------


def status_reason(status: int) -> str:
    """ "HTTP 404 Not Found": a status as a rejection reason."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date; ``None`` if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def parse_content_type(header: str) -> tuple[str, str]:
    """A Content-Type header as (media type, charset), both lower-case; "" when absent."""
    media, _, params = header.partition(";")
    match = _CHARSET.search(params)
    return media.strip().lower(), (match.group(1).lower() if match else "")


def check_length(header: str | None, limit: int, truncate: bool) -> None:
    """Refuse a body whose Content-Length already says it is too large (unless truncating)."""
    if header is None or truncate:
        return
    try:
        length = int(header)
    except ValueError:
        return  # a lying header changes nothing: the streaming limit still applies
    if length > limit:
        raise FetchError(f"too large: more than {limit:,} bytes (Content-Length {length:,})")


def sniff_content_type(data: bytes, types: Collection[str]) -> str:
    """The content type of a response that gave none, from its first bytes."""
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "text/html"
    if "text/xml" in types and head.startswith((b"<?xml", b"<rss", b"<feed", b"<urlset")):
        return "text/xml"
    raise FetchError("not an article: no content type given and not HTML")
