"""Per-host politeness: request *starts* to one host are at least one interval apart.

The interval is ``1 / fetch_rate_per_host`` seconds, or the host's robots.txt Crawl-delay
when that is longer; robots.txt requests count against the same budget."""

from __future__ import annotations

import threading
import time


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


class HostIntervals:
    """The interval of each host in one run: the configured rate's, or a longer Crawl-delay."""

    def __init__(self, rate_per_host: float) -> None:
        self.base = 1.0 / rate_per_host if rate_per_host > 0 else 0.0
        self._longer: dict[str, float] = {}  # hosts whose Crawl-delay is longer
        self._lock = threading.Lock()

    def of(self, host: str) -> float:
        return self._longer.get(host, self.base)

    def lengthen(self, host: str, seconds: float) -> None:
        """Use ``seconds`` for ``host`` from now on, if longer than the configured interval."""
        if seconds > self.base:
            with self._lock:
                self._longer[host] = seconds
