"""Fetching article URLs: polite per host, concurrent across hosts, safe, and cheap to re-run.

Public API (what the pipeline calls):

- ``etl.url_discovery.discover_urls(urls, settings, feeds=, sitemaps=, list_files=)``:
  canonical, de-duplicated article URLs plus the inputs rejected while discovering them.
- ``fetch_inputs(urls, settings, cache_path=..., known_hashes=...)``: one ``RawInput`` per URL,
  yielded as fetches complete.

How a URL is fetched (``Fetcher.get``), hop by hop since we follow redirects ourselves:

1. robots.txt of the hop's origin (fetched through this same fetcher, cached per origin);
2. the per-host clock: request *starts* to one host are at least ``1 / fetch_rate_per_host``
   seconds apart (or the robots.txt Crawl-delay, when longer), robots.txt requests included;
3. the connection: the host name is resolved and every address checked by ``etl.netguard``;
   the socket goes to a checked address (no second DNS lookup that could be rebound);
4. retries with backoff on 429/5xx, honouring Retry-After up to ``fetch_max_wait``;
5. the body: content type allowlisted, Content-Length checked, then streamed with a byte limit
   and our own bounded gzip/deflate decoding (urllib3's would inflate a bomb unchecked).
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import heapq
import itertools
import logging
import re
import socket
import threading
import time
import zlib
from collections import deque
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.response import HTTPResponse
from urllib3.util.connection import create_connection as create_connection  # tests spy on it

from etl.fetch_cache import CacheEntry, FetchCache
from etl.netguard import BlockedAddress, NetGuard, normal_host
from etl.settings import Settings, redact_url
from etl.sources import RawInput

LOG = logging.getLogger(__name__)

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
_ACCEPT_ARTICLE = "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8"
_ACCEPT_DOCUMENT = (
    "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,"
    "text/html;q=0.8,*/*;q=0.5"
)

REDIRECTS = frozenset({301, 302, 303, 307, 308})
RETRYABLE = frozenset({429, 500, 502, 503, 504})
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: crawlers must parse at least 500 KiB
_CHUNK = 64 * 1024
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)


class FetchError(Exception):
    """A fetch ended without a usable body; ``reason`` is the input's rejection text."""

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


# --- per-host politeness --------------------------------------------------------------


class HostClock:
    """When each host may next be sent a request.

    One clock per process (``CLOCK``), shared by discovery and fetching, so the interval holds
    across ``discover_urls`` -> ``fetch_inputs`` too. Slots are *reserved* under a lock, so two
    threads never get the same slot; the sleeping happens outside the lock."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def ready_at(self, host: str, interval: float) -> float:
        with self._lock:
            last = self._last.get(host)
        return time.monotonic() if last is None else last + interval

    def reserve(self, host: str, interval: float) -> float:
        with self._lock:
            now = time.monotonic()
            last = self._last.get(host)
            start = now if last is None else max(now, last + interval)
            self._last[host] = start
            return start

    def wait(self, host: str, interval: float) -> None:
        delay = self.reserve(host, interval) - time.monotonic()
        if delay > 0:
            time.sleep(delay)


CLOCK = HostClock()


@dataclass(slots=True)
class _Robots:
    parser: RobotFileParser | None = None
    error: FetchError | None = None  # set: every URL of the origin is rejected with it


# --- the whole-response deadline --------------------------------------------------------


class _Deadline:
    """The deadline of one request: its status line, headers and whole body must have arrived
    by ``at``. The read timeout alone never fires against a server that sends a byte a
    second, and a blocking read cannot be told to stop early, so at the deadline the
    watchdog shuts the request's socket down: whatever read is waiting then ends at once
    (and the error it raises is reported as this deadline)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self.done = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    @property
    def reason(self) -> str:
        return f"timeout after {self.seconds:g}s (whole response deadline)"

    def watch(self, sock: socket.socket | None) -> None:
        """The socket the response arrives on (a pooled connection's differs per request)."""
        with self._lock:
            if self.done or sock is None:
                return
            self._sock = sock
            if self.expired:
                _shutdown(sock)

    def fire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            if self._sock is not None:
                _shutdown(self._sock)

    def check(self) -> None:
        if self.expired or time.monotonic() >= self.at:
            self.expired = True
            raise FetchError(self.reason)

    def close(self) -> None:
        """The request is over: the socket (maybe back in the pool) is no longer ours."""
        with self._lock:
            self.done = True
            self._sock = None


def _shutdown(sock: socket.socket) -> None:
    # socket.socket's own shutdown, also for an SSLSocket: SSLSocket.shutdown would drop the
    # TLS state under a read that is still running in another thread.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One thread per process that fires deadlines when they are due."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self, seconds: float) -> _Deadline:
        deadline = _Deadline(seconds)
        with self._cond:
            if len(self._heap) > 4096:  # drop finished requests' entries now and then
                self._heap = [e for e in self._heap if not e[2].done]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, (deadline.at, next(self._seq), deadline))
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(
                    target=self._run, name="fetch-deadlines", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return deadline

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                delay = self._heap[0][0] - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)[2].fire()


WATCHDOG = _Watchdog()
_current = threading.local()  # the deadline of the request this thread is sending


def _watch_current(sock: socket.socket | None) -> None:
    deadline: _Deadline | None = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


# --- guarded connections ----------------------------------------------------------------


def _connect_checked(conn: HTTPConnection, guard: NetGuard) -> socket.socket:
    """Replacement for urllib3's ``_new_conn``: resolve, check every address, connect to one.

    The TLS layer (HTTPSConnection) still uses ``conn.host`` for SNI and certificate checks,
    and the Host header is the URL's, so only *where* we connect changes."""
    try:
        addresses = guard.resolve(conn._dns_host, conn.port)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    last_error: OSError | None = None
    for address in addresses:
        try:
            return create_connection(
                (address, conn.port),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except TimeoutError as exc:
            raise ConnectTimeoutError(conn, f"connect timeout={conn.timeout}") from exc
        except OSError as exc:
            last_error = exc
    raise NewConnectionError(
        conn, f"Failed to establish a new connection: {last_error}"
    ) from last_error


def _guarded_pool_manager(guard: NetGuard, settings: Settings) -> urllib3.PoolManager:
    class GuardedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _connect_checked(self, guard)

        def getresponse(self) -> HTTPResponse:  # type: ignore[override]
            _watch_current(self.sock)  # from the status line on, the deadline holds
            return super().getresponse()

    class GuardedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _connect_checked(self, guard)

        def getresponse(self) -> HTTPResponse:  # type: ignore[override]
            _watch_current(self.sock)
            return super().getresponse()

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    # No proxy support on purpose: a proxy would connect on our behalf, unchecked.
    manager = urllib3.PoolManager(
        num_pools=max(64, settings.fetch_concurrency * 4), maxsize=4, block=False
    )
    manager.pool_classes_by_scheme = {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}
    return manager


# --- the fetcher ------------------------------------------------------------------------


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


def status_reason(status: int) -> str:
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


class Fetcher:
    """Everything one run needs to fetch politely and safely; thread-safe ``get``."""

    def __init__(
        self, settings: Settings, *, guard: NetGuard | None = None, clock: HostClock = CLOCK
    ) -> None:
        self.settings = settings
        self.guard = guard or NetGuard.from_cidrs(settings.allowed_networks)
        self.clock = clock
        self.pool = _guarded_pool_manager(self.guard, settings)
        self.timeout = urllib3.Timeout(
            connect=settings.fetch_connect_timeout, read=settings.fetch_read_timeout
        )
        base = 1.0 / settings.fetch_rate_per_host if settings.fetch_rate_per_host > 0 else 0.0
        self.base_interval = base
        self._intervals: dict[str, float] = {}  # hosts whose Crawl-delay is longer
        self._robots: dict[str, _Robots] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._dead_hosts: dict[str, str] = {}  # unreachable this run: fail the rest fast
        self._lock = threading.Lock()

    def close(self) -> None:
        self.pool.clear()

    def interval(self, host: str) -> float:
        return self._intervals.get(host, self.base_interval)

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
            _check_scheme(current)
            if check_robots and self.settings.respect_robots:
                self.check_robots(current)
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
            "Accept": _ACCEPT_ARTICLE if types is ARTICLE_TYPES else _ACCEPT_DOCUMENT,
            # Only what _Inflater can decode with a bound; never br/zstd.
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
            _check_scheme(target)
        except (FetchError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, FetchError) else f"invalid URL: {exc}"
            raise FetchError(f"redirect refused: {reason}") from None
        return target

    # -- sending, with retries ----------------------------------------------------------

    def _send(
        self, url: str, headers: Mapping[str, str]
    ) -> tuple[urllib3.BaseHTTPResponse, _Deadline]:
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
            _current.deadline = deadline
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
                _current.deadline = None
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
        deadline: _Deadline,
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
            content_type, charset = _content_type(response.headers.get("Content-Type", ""))
            if types and content_type and content_type not in types:
                raise FetchError(f"not an article: content type {content_type}")
            _check_length(response.headers.get("Content-Length"), limit, truncate)
            data = self._read_body(response, limit, truncate, deadline)
        finally:
            _discard(response)
        if types and not content_type:
            content_type = _sniff(data, types)
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
        self, response: urllib3.BaseHTTPResponse, limit: int, truncate: bool, deadline: _Deadline
    ) -> bytes:
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        inflater = _Inflater(encoding, limit, truncate)
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

    def check_robots(self, url: str) -> None:
        robots = self._robots_for(url)
        if robots.error is not None:
            raise FetchError(robots.error.reason, host_level=robots.error.host_level)
        if robots.parser is not None and not robots.parser.can_fetch(self.settings.user_agent, url):
            raise FetchError("robots.txt disallows this URL")

    def robots_sitemaps(self, url: str) -> list[str]:
        """Sitemap: lines of the origin's robots.txt (for sitemap discovery)."""
        robots = self._robots_for(url)
        return list((robots.parser.site_maps() if robots.parser else None) or [])

    def _robots_for(self, url: str) -> _Robots:
        origin = _origin(url)
        with self._lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:  # one fetch per origin, however many threads ask at once
            robots = self._robots.get(origin)
            if robots is None:
                robots = self._load_robots(origin)
                self._robots[origin] = robots
        return robots

    def _load_robots(self, origin: str) -> _Robots:
        """RFC 9309: 2xx -> obey; 4xx -> no rules; 5xx, 429 or unreachable -> disallow all."""
        try:
            response = self.get(
                origin + "/robots.txt",
                types={},
                max_bytes=ROBOTS_MAX_BYTES,
                check_robots=False,
                truncate=True,
            )
        except FetchError as exc:
            if exc.host_level:
                return _Robots(error=exc)
            status = re.match(r"HTTP (\d{3})", exc.reason)
            if status and 400 <= int(status.group(1)) < 500 and status.group(1) != "429":
                return _Robots()
            return _Robots(error=FetchError(f"robots.txt unreachable: {exc.reason}"))
        parser = RobotFileParser(origin + "/robots.txt")
        parser.parse(response.data.decode("utf-8", errors="replace").splitlines())
        parser.modified()  # can_fetch() answers False until the parser looks "read"
        error = self._apply_crawl_delay(host_of(origin), parser)
        return _Robots(parser=parser, error=error)

    def _apply_crawl_delay(self, host: str, parser: RobotFileParser) -> FetchError | None:
        agent = self.settings.user_agent
        delay = parser.crawl_delay(agent)
        rate = parser.request_rate(agent)
        seconds = float(delay) if delay is not None else 0.0
        if rate is not None and rate.requests > 0:
            seconds = max(seconds, rate.seconds / rate.requests)
        if seconds > self.settings.fetch_max_wait:
            return FetchError(
                f"robots.txt crawl-delay {seconds:g}s is longer than the"
                f" {self.settings.fetch_max_wait:g}s we wait (ARTICLE_ETL_FETCH_MAX_WAIT)"
            )
        if seconds > self.base_interval:
            with self._lock:
                self._intervals[host] = seconds
        return None

    # -- one article input ---------------------------------------------------------------

    def fetch_input(self, url: str, conditional: CacheEntry | None = None) -> RawInput:
        """One URL -> one RawInput; never raises (a surprise becomes a rejection)."""
        try:
            response = self.get(url, conditional=conditional)
        except FetchError as exc:
            return RawInput(key=url, kind="url", url=exc.final_url or url, rejection=exc.reason)
        except Exception as exc:  # a bug must cost one input, not the run
            LOG.exception("unexpected error fetching %s", shown_url(url))
            return RawInput(key=url, kind="url", url=url, rejection=f"fetch failed: {exc!r}")
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


def _check_scheme(url: str) -> None:
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
        # As etl.url_discovery refuses them: they would end up in logs and in the index.
        raise FetchError("URL contains a user name or password")


def _origin(url: str) -> str:
    """``scheme://host[:port]``, the host as ``host_of`` sees it (no final dot)."""
    parts = urlsplit(url)
    host = normal_host(parts.hostname or "")
    try:
        port = parts.port
    except ValueError:
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}"
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}" + (f":{port}" if port is not None else "")


def _content_type(header: str) -> tuple[str, str]:
    media, _, params = header.partition(";")
    match = _CHARSET.search(params)
    return media.strip().lower(), (match.group(1).lower() if match else "")


def _check_length(header: str | None, limit: int, truncate: bool) -> None:
    if header is None or truncate:
        return
    try:
        length = int(header)
    except ValueError:
        return  # a lying header changes nothing: the streaming limit still applies
    if length > limit:
        raise FetchError(f"too large: more than {limit:,} bytes (Content-Length {length:,})")


def _sniff(data: bytes, types: Collection[str]) -> str:
    """The content type of a response that gave none, from its first bytes."""
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "text/html"
    if "text/xml" in types and head.startswith((b"<?xml", b"<rss", b"<feed", b"<urlset")):
        return "text/xml"
    raise FetchError("not an article: no content type given and not HTML")


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


class _Inflater:
    """Content-Encoding decoding with a bound on the *output*: a 20 kB gzip body that would
    inflate to 20 GB stops at ``limit`` bytes. ``feed`` returns True when full (truncate)."""

    def __init__(self, encoding: str, limit: int, truncate: bool) -> None:
        if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise FetchError(f"unsupported content encoding {encoding!r}")
        self.encoding = encoding
        self.limit = limit
        self.truncate = truncate
        self.out = bytearray()
        self._z: zlib._Decompress | None = None

    @property
    def compressed(self) -> bool:
        return self.encoding not in ("", "identity")

    def feed(self, chunk: bytes) -> bool:
        if not self.compressed:
            self.out += chunk
        else:
            self._inflate(chunk)
        if len(self.out) > self.limit:
            if self.truncate:
                del self.out[self.limit :]
                return True
            if self.compressed:
                raise FetchError(
                    f"gzip bomb: {self.encoding} body inflates to more than {self.limit:,} bytes"
                )
            raise FetchError(f"too large: more than {self.limit:,} bytes")
        return False

    def _inflate(self, chunk: bytes) -> None:
        if self._z is None:
            self._z = zlib.decompressobj(_wbits(self.encoding, chunk))
        data = chunk
        try:
            while data and not self._z.eof:
                room = self.limit - len(self.out) + 1  # one byte over: proof of "too large"
                self.out += self._z.decompress(data, room)
                if len(self.out) > self.limit:
                    return
                data = self._z.unconsumed_tail
        except zlib.error as exc:
            raise FetchError(f"invalid {self.encoding} data: {exc}") from None

    def result(self) -> bytes:
        if self._z is not None and not self._z.eof and len(self.out) <= self.limit:
            try:
                self.out += self._z.flush()
            except zlib.error as exc:
                raise FetchError(f"invalid {self.encoding} data: {exc}") from None
            if len(self.out) > self.limit and not self.truncate:
                raise FetchError(f"gzip bomb: body inflates to more than {self.limit:,} bytes")
        return bytes(self.out[: self.limit])


def _wbits(encoding: str, first: bytes) -> int:
    if encoding in ("gzip", "x-gzip"):
        return 16 + zlib.MAX_WBITS
    # "deflate" should be zlib-wrapped (RFC 9110) but some servers send raw deflate.
    if len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0:
        return zlib.MAX_WBITS
    return -zlib.MAX_WBITS


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the public API -----------------------------------------------------------------------


def fetch_inputs(
    urls: Sequence[str],
    settings: Settings,
    *,
    cache_path: Path,
    known_hashes: Mapping[str, str] | None = None,
) -> Iterator[RawInput]:
    """One ``RawInput`` per URL (``kind="url"``, ``key`` = the URL as given), as completed.

    ``known_hashes`` (URL -> the ledger's raw hash): a conditional request is sent only when the
    cache's hash for the URL equals the ledger's, so a 304 ("unchanged") can never hide a page
    the index does not hold. ``None`` trusts the cache alone."""
    fetcher = Fetcher(settings)
    cache = FetchCache(cache_path)
    try:
        yield from _Dispatcher(fetcher, cache, known_hashes).run(urls)
    finally:
        fetcher.close()
        cache.close()


@dataclass
class _Dispatcher:
    """Feeds the thread pool: at most one request in flight per host, the host that may go
    soonest first, never more than ``fetch_concurrency`` fetches (and bodies) in memory."""

    fetcher: Fetcher
    cache: FetchCache
    known_hashes: Mapping[str, str] | None
    _queues: dict[str, deque[str]] = field(default_factory=dict)
    _ready: list[tuple[float, int, str]] = field(default_factory=list)  # heap of idle hosts
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    def run(self, urls: Sequence[str]) -> Iterator[RawInput]:
        for url in dict.fromkeys(urls):  # a repeated URL would be fetched twice for one key
            host = host_of(url)
            if not host or urlsplit(url).scheme not in ("http", "https"):
                yield RawInput(key=url, kind="url", url=url, rejection=_bad_url_reason(url))
                continue
            self._queues.setdefault(host, deque()).append(url)
        for host in self._queues:
            self._push(host)
        workers = max(1, self.fetcher.settings.fetch_concurrency)
        running: dict[Future[RawInput], str] = {}
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
            try:
                while self._ready or running:
                    self._submit_ready(pool, running, workers)
                    done = self._wait(running)
                    for future in done:
                        host = running.pop(future)
                        result = future.result()
                        self._remember(result)
                        if self._queues.get(host):
                            self._push(host)
                        yield result
            finally:
                for future in running:
                    future.cancel()

    def _push(self, host: str) -> None:
        ready = self.fetcher.clock.ready_at(host, self.fetcher.interval(host))
        heapq.heappush(self._ready, (ready, next(self._seq), host))

    def _submit_ready(
        self, pool: ThreadPoolExecutor, running: dict[Future[RawInput], str], workers: int
    ) -> None:
        while self._ready and len(running) < workers:
            ready, _, host = self._ready[0]
            now = time.monotonic()
            if ready > now + 0.001:
                return
            heapq.heappop(self._ready)
            # The host's interval may have grown (Crawl-delay) since it was queued.
            actual = self.fetcher.clock.ready_at(host, self.fetcher.interval(host))
            if actual > now + 0.001:
                heapq.heappush(self._ready, (actual, next(self._seq), host))
                continue
            url = self._queues[host].popleft()
            if not self._queues[host]:
                del self._queues[host]
            running[pool.submit(self.fetcher.fetch_input, url, self._conditional(url))] = host

    def _wait(self, running: dict[Future[RawInput], str]) -> set[Future[RawInput]]:
        timeout = None
        if self._ready:
            timeout = max(0.0, self._ready[0][0] - time.monotonic())
        if not running:
            time.sleep(timeout or 0.0)
            return set()
        done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
        return done

    def _conditional(self, url: str) -> CacheEntry | None:
        entry = self.cache.get(url)
        if entry is None or not entry.has_validators:
            return None
        if self.known_hashes is not None and self.known_hashes.get(url) != entry.content_hash:
            return None  # the index does not hold what the server would call "not modified"
        return entry

    def _remember(self, result: RawInput) -> None:
        """Update the cache; it only saves work, so a locked database costs a warning."""
        try:
            self._update_cache(result)
        except Exception as exc:  # locked, or a URL SQLite cannot take: a warning, not the run
            LOG.warning("fetch cache not updated for %s: %r", shown_url(result.key), exc)

    def _update_cache(self, result: RawInput) -> None:
        if result.not_modified:
            self.cache.touch(result.key)
        elif result.rejection is None:
            self.cache.put(
                result.key,
                final_url=result.url,
                etag=result.extra.get("etag"),
                last_modified=result.extra.get("last_modified"),
                content_hash=sha256_hex(result.data),
            )
        elif result.rejection.startswith(("HTTP 404", "HTTP 410")):
            self.cache.forget(result.key)


def _bad_url_reason(url: str) -> str:
    try:
        _check_scheme(url)
    except FetchError as exc:
        return exc.reason
    return "invalid URL"
