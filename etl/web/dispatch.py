"""Fetching many article URLs: one ``RawInput`` per URL, concurrent across hosts, one request
at a time per host, and cheap to re-run (conditional requests from the fetch cache).

The pipeline calls ``etl.web.discovery.discover_urls`` (URLs from the command line, list files,
feeds and sitemaps), then ``fetch_inputs`` here.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from etl.outcomes import Rejection
from etl.record import RawInput, sha256_hex
from etl.settings import Settings
from etl.web.fetch_cache import CacheEntry, FetchCache
from etl.web.fetcher import Fetcher
from etl.web.protocol import bad_url_reason, host_of, shown_url

LOG = logging.getLogger(__name__)


def fetch_inputs(
    urls: Sequence[str],
    settings: Settings,
    *,
    cache_location: str | Path,
    known_hashes: Mapping[str, str] | None = None,
) -> Iterator[RawInput]:
    """One ``RawInput`` per URL (``kind="url"``, ``key`` = the URL as given), as completed.

    ``known_hashes`` (URL -> the ledger's raw hash): a conditional request is sent only when the
    cache's hash for the URL equals the ledger's, so a 304 ("unchanged") can never hide a page
    the index does not hold. ``None`` trusts the cache alone."""
    fetcher = Fetcher(settings)
    cache = FetchCache(cache_location)
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
                reason = Rejection(bad_url_reason(url))
                yield RawInput(key=url, kind="url", url=url, rejection=reason)
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
