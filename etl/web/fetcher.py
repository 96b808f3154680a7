"""The fetcher: one URL, redirects followed hop by hop, politely and safely.

How a URL is fetched (``Fetcher.get``), hop by hop since we follow redirects ourselves:

1. robots.txt of the hop's origin (fetched through this same fetcher, cached per origin;
   ``etl.web.robots``);
2. the per-host clock: request *starts* to one host are at least ``1 / fetch_rate_per_host``
   seconds apart (or the robots.txt Crawl-delay, when longer; ``etl.web.politeness``),
   robots.txt requests included;
3. the connection: the host name is resolved and every address checked by
   ``etl.web.netguard``; the socket goes to a checked address (``etl.web.connections``);
4. retries with backoff on 429/5xx, honouring Retry-After up to ``fetch_max_wait``;
5. the body: content type allowlisted, Content-Length checked, then streamed with a byte limit
   and our own bounded gzip/deflate decoding (``etl.web.decompress``; urllib3's would inflate
   a bomb unchecked).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from urllib.parse import urldefrag, urljoin

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from etl.outcomes import Rejection
from etl.record import RawInput
from etl.settings import Settings
from etl.web.connections import WATCHDOG, Deadline, guarded_pool_manager, set_current_deadline
from etl.web.decompress import BoundedInflater
from etl.web.fetch_cache import CacheEntry
from etl.web.netguard import BlockedAddress, NetGuard
from etl.web.politeness import CLOCK, HostClock, HostIntervals
from etl.web.protocol import (
    ACCEPT_ARTICLE,
    ACCEPT_DOCUMENT,
    ARTICLE_TYPES,
    REDIRECTS,
    RETRYABLE,
    FetchError,
    Response,
    check_length,
    check_scheme,
    host_of,
    parse_content_type,
    retry_after_seconds,
    shown_url,
    sniff_content_type,
    status_reason,
)
from etl.web.robots import ROBOTS_MAX_BYTES, RobotsRules

LOG = logging.getLogger(__name__)

_CHUNK = 64 * 1024


class Fetcher:
    """Everything one run needs to fetch politely and safely; thread-safe ``get``."""

    def __init__(
        self, settings: Settings, *, guard: NetGuard | None = None, clock: HostClock = CLOCK
    ) -> None:
        self.settings = settings
        self.guard = guard or NetGuard.from_cidrs(settings.allowed_networks)
        self.clock = clock
        self.pool = guarded_pool_manager(self.guard, settings)
        self.timeout = urllib3.Timeout(
            connect=settings.fetch_connect_timeout, read=settings.fetch_read_timeout
        )
        self.intervals = HostIntervals(settings.fetch_rate_per_host)
        self.robots = RobotsRules(settings, self.intervals, self._fetch_robots_txt)
        self._dead_hosts: dict[str, str] = {}  # unreachable this run: fail the rest fast

    def close(self) -> None:
        self.pool.clear()

    def interval(self, host: str) -> float:
        return self.intervals.of(host)

    # -- one URL, redirects followed hop by hop ---------------------------------------

    def get(
        self,
        url: str,
        *,
        types: Mapping[str, str] = ARTICLE_TYPES,
        max_bytes: int | None = None,
        conditional: CacheEntry | None = None,
        check_robots: bool = True,
        truncate: bool = False,
    ) -> Response:
        """Fetch ``url``; raise ``FetchError`` with the rejection reason.

        ``types``: allowed content types (empty: any). ``conditional``: the cached validators,
        sent only to the hop whose URL is the cached final URL (that is what they describe).
        ``truncate``: keep the first ``max_bytes`` instead of rejecting a larger body."""
        limit = self.settings.max_input_bytes if max_bytes is None else max_bytes
        current = url
        seen = {url}
        for _hop in range(self.settings.fetch_max_redirects + 1):
            check_scheme(current)
            if check_robots and self.settings.respect_robots:
                self.robots.check(current)
            headers = self._headers(types, conditional if conditional else None, current)
            try:
                response, deadline = self._send(current, headers)
                try:
                    if response.status in REDIRECTS:
                        nxt = self._redirect_target(current, response)
                        deadline.check()  # cut short, the Location may be too
                        if nxt in seen:
                            raise FetchError("redirect loop", final_url=current)
                        seen.add(nxt)
                        current = nxt
                        continue
                    final = self._final(
                        current, response, types, limit, headers, truncate, deadline
                    )
                    # A read the watchdog ended may look like the end of the headers or of a
                    # body without Content-Length: only a response complete in time counts.
                    deadline.check()
                    return final
                except (FetchError, HTTPError, OSError) as exc:
                    if deadline.expired:  # the watchdog ended the read: say so
                        raise FetchError(deadline.reason) from None
                    if isinstance(exc, FetchError):
                        raise
                    raise FetchError(self._error_reason(exc)) from None
                finally:
                    deadline.close()
            except FetchError as exc:
                exc.final_url = exc.final_url or current
                raise
        raise FetchError(
            f"too many redirects (more than {self.settings.fetch_max_redirects})",
            final_url=current,
        )

    def _headers(
        self, types: Mapping[str, str], conditional: CacheEntry | None, url: str
    ) -> dict[str, str]:
        headers = {
            "User-Agent": self.settings.user_agent,
            "Accept": ACCEPT_ARTICLE if types is ARTICLE_TYPES else ACCEPT_DOCUMENT,
            # Only what BoundedInflater can decode with a bound; never br/zstd.
            "Accept-Encoding": "gzip, deflate",
        }
        if conditional is not None and conditional.final_url == url:
            if conditional.etag:
                headers["If-None-Match"] = conditional.etag
            if conditional.last_modified:
                headers["If-Modified-Since"] = conditional.last_modified
        return headers

    def _redirect_target(self, current: str, response: urllib3.BaseHTTPResponse) -> str:
        location = response.headers.get("Location", "").strip()
        _discard(response)
        if not location:
            raise FetchError(f"{status_reason(response.status)} without a Location header")
        try:
            target = urldefrag(urljoin(current, location))[0]
            check_scheme(target)
        except (FetchError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, FetchError) else f"invalid URL: {exc}"
            raise FetchError(f"redirect refused: {reason}") from None
        return target

    # -- sending, with retries ----------------------------------------------------------

    def _send(
        self, url: str, headers: Mapping[str, str]
    ) -> tuple[urllib3.BaseHTTPResponse, Deadline]:
        """The response (status line and headers read) and its deadline, which the caller
        closes once it has read what it wants of the body."""
        host = host_of(url)
        retries = max(0, self.settings.fetch_retries)
        for attempt in range(retries + 1):
            dead = self._dead_hosts.get(host)
            if dead:
                raise FetchError(dead, host_level=True)
            self.clock.wait(host, self.interval(host))
            deadline = WATCHDOG.start(self.settings.fetch_total_timeout)
            set_current_deadline(deadline)
            try:
                response = self.pool.urlopen(
                    "GET",
                    url,
                    headers=dict(headers),
                    redirect=False,
                    retries=False,
                    preload_content=False,
                    decode_content=False,
                    timeout=self.timeout,
                )
            except BlockedAddress as exc:
                deadline.close()
                raise FetchError(str(exc), host_level=True) from None
            except BaseException as exc:
                deadline.close()
                if deadline.expired:  # the watchdog ended a read of the status line or headers
                    raise FetchError(deadline.reason) from None
                if isinstance(exc, NameResolutionError | ConnectTimeoutError):
                    reason = self._error_reason(exc)
                    if isinstance(exc, ConnectTimeoutError):
                        self._dead_hosts[host] = reason  # no answer to SYNs: not soon either
                    raise FetchError(reason, host_level=True) from None
                if isinstance(exc, NewConnectionError | ProtocolError):
                    # Refused / reset: worth a retry; DNS failures and timeouts are not.
                    if attempt == retries:
                        reason = self._error_reason(exc)
                        if isinstance(exc, NewConnectionError):
                            self._dead_hosts[host] = reason
                        raise FetchError(reason, host_level=True) from None
                    time.sleep(self._backoff(attempt))
                    continue
                if isinstance(exc, HTTPError):
                    raise FetchError(self._error_reason(exc)) from None
                raise
            finally:
                set_current_deadline(None)
            if response.status not in RETRYABLE or attempt == retries:
                return response, deadline
            try:
                delay = self._retry_delay(response, attempt)
                _discard(response)
            finally:
                deadline.close()
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        return float(self.settings.fetch_retry_backoff * (2**attempt))

    def _retry_delay(self, response: urllib3.BaseHTTPResponse, attempt: int) -> float:
        asked = retry_after_seconds(response.headers.get("Retry-After"))
        if asked is None:
            return self._backoff(attempt)
        if asked > self.settings.fetch_max_wait:
            _discard(response)
            what = "rate limited" if response.status == 429 else status_reason(response.status)
            raise FetchError(
                f"{what} (Retry-After too long: {asked:.0f}s > {self.settings.fetch_max_wait:g}s)"
            )
        return asked

    def _error_reason(self, exc: Exception) -> str:
        if isinstance(exc, NameResolutionError):
            return f"DNS lookup failed for {getattr(exc.conn, 'host', '?')}"
        if isinstance(exc, NewConnectionError):
            return f"connection failed: {_root_cause(exc)}"
        if isinstance(exc, ConnectTimeoutError):
            return f"timeout after {self.settings.fetch_connect_timeout:g}s (connect)"
        if isinstance(exc, ReadTimeoutError):
            return f"timeout after {self.settings.fetch_read_timeout:g}s (read)"
        if isinstance(exc, SSLError):
            return f"TLS error: {_root_cause(exc)}"
        if isinstance(exc, ProtocolError):
            return f"connection broken: {_root_cause(exc)}"
        return f"fetch failed: {type(exc).__name__}"

    # -- the final response ----------------------------------------------------------

    def _final(
        self,
        url: str,
        response: urllib3.BaseHTTPResponse,
        types: Mapping[str, str],
        limit: int,
        headers: Mapping[str, str],
        truncate: bool,
        deadline: Deadline,
    ) -> Response:
        status = response.status
        try:
            if status == 304:
                if "If-None-Match" in headers or "If-Modified-Since" in headers:
                    return Response(url=url, status=304, not_modified=True)
                raise FetchError("HTTP 304 Not Modified without a conditional request")
            if status == 429:
                raise FetchError(f"rate limited ({status_reason(status)})")
            if not 200 <= status < 300:
                raise FetchError(status_reason(status))
            content_type, charset = parse_content_type(response.headers.get("Content-Type", ""))
            if types and content_type and content_type not in types:
                raise FetchError(f"not an article: content type {content_type}")
            check_length(response.headers.get("Content-Length"), limit, truncate)
            data = self._read_body(response, limit, truncate, deadline)
        finally:
            _discard(response)
        if types and not content_type:
            content_type = sniff_content_type(data, types)
        return Response(
            url=url,
            status=status,
            content_type=content_type,
            charset=charset,
            data=data,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )

    def _read_body(
        self, response: urllib3.BaseHTTPResponse, limit: int, truncate: bool, deadline: Deadline
    ) -> bytes:
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        inflater = BoundedInflater(encoding, limit, truncate)
        raw = 0
        try:
            for chunk in response.stream(_CHUNK, decode_content=False):
                raw += len(chunk)
                if raw > limit and not truncate:
                    raise FetchError(f"too large: more than {limit:,} bytes")
                if inflater.feed(chunk):
                    break  # truncating and full
                deadline.check()
        except HTTPError as exc:
            if deadline.expired:
                raise FetchError(deadline.reason) from None
            raise FetchError(self._error_reason(exc)) from None
        return inflater.result()

    # -- robots.txt -------------------------------------------------------------------

    def _fetch_robots_txt(self, url: str) -> Response:
        return self.get(
            url, types={}, max_bytes=ROBOTS_MAX_BYTES, check_robots=False, truncate=True
        )

    # -- one article input ---------------------------------------------------------------

    def fetch_input(self, url: str, conditional: CacheEntry | None = None) -> RawInput:
        """One URL -> one RawInput; never raises (a surprise becomes a rejection)."""
        try:
            response = self.get(url, conditional=conditional)
        except FetchError as exc:
            reason = Rejection(exc.reason)
            return RawInput(key=url, kind="url", url=exc.final_url or url, rejection=reason)
        except Exception as exc:  # a bug must cost one input, not the run
            LOG.exception("unexpected error fetching %s", shown_url(url))
            reason = Rejection.of(exc, "fetch failed")
            return RawInput(key=url, kind="url", url=url, rejection=reason)
        extra = {
            k: v
            for k, v in (
                ("http_status", str(response.status)),
                ("content_type", response.content_type),
                ("charset", response.charset),
                ("etag", response.etag or ""),
                ("last_modified", response.last_modified or ""),
            )
            if v
        }
        if response.not_modified:
            return RawInput(key=url, kind="url", url=response.url, not_modified=True, extra=extra)
        return RawInput(
            key=url,
            kind="url",
            data=response.data,
            media_type=ARTICLE_TYPES.get(response.content_type, ""),
            url=response.url,
            extra=extra,
        )


# --- helpers ---------------------------------------------------------------------------


def _discard(response: urllib3.BaseHTTPResponse) -> None:
    """Give the connection back: drain a small unread body, close a big or unknown one."""
    try:
        length = int(response.headers.get("Content-Length", "-1"))
    except ValueError:
        length = -1
    try:
        if 0 <= length <= _CHUNK and not response.closed:
            response.drain_conn()
        else:
            response.close()
        response.release_conn()
    except (HTTPError, OSError):
        pass


def _root_cause(exc: BaseException) -> str:
    """The innermost OS-level message ("Connection refused"), without urllib3's object dump."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    return text.rpartition(": ")[2] or type(exc).__name__
