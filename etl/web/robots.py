"""robots.txt (RFC 9309): fetched once per origin through the fetcher itself, then obeyed.

2xx -> its rules and its Crawl-delay; 4xx -> no rules; 5xx, 429 or an unreachable host ->
every URL of the origin is refused. A Crawl-delay longer than ``fetch_max_wait`` refuses the
origin too (we would not wait that long)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from etl.settings import Settings
from etl.web.netguard import normal_host
from etl.web.politeness import HostIntervals
from etl.web.protocol import FetchError, Response, host_of

ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: crawlers must parse at least 500 KiB

# robots.txt URL -> its response (at most ROBOTS_MAX_BYTES, never robots-checked itself).
FetchRobotsTxt = Callable[[str], Response]


@dataclass(slots=True)
class _OriginRules:
    parser: RobotFileParser | None = None
    error: FetchError | None = None  # set: every URL of the origin is rejected with it


class RobotsRules:
    """The robots.txt of every origin one fetcher reaches; thread-safe."""

    def __init__(
        self, settings: Settings, intervals: HostIntervals, fetch_robots_txt: FetchRobotsTxt
    ) -> None:
        self.settings = settings
        self.intervals = intervals
        self._fetch = fetch_robots_txt
        self._rules: dict[str, _OriginRules] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def check(self, url: str) -> None:
        """Raise ``FetchError`` unless robots.txt lets us fetch ``url``."""
        rules = self._rules_for(url)
        if rules.error is not None:
            raise FetchError(rules.error.reason, host_level=rules.error.host_level)
        if rules.parser is not None and not rules.parser.can_fetch(self.settings.user_agent, url):
            raise FetchError("robots.txt disallows this URL")

    def sitemaps(self, url: str) -> list[str]:
        """Sitemap: lines of the origin's robots.txt (for sitemap discovery)."""
        rules = self._rules_for(url)
        return list((rules.parser.site_maps() if rules.parser else None) or [])

    def _rules_for(self, url: str) -> _OriginRules:
        origin = _origin(url)
        with self._lock:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:  # one fetch per origin, however many threads ask at once
            rules = self._rules.get(origin)
            if rules is None:
                rules = self._load(origin)
                self._rules[origin] = rules
        return rules

    def _load(self, origin: str) -> _OriginRules:
        """RFC 9309: 2xx -> obey; 4xx -> no rules; 5xx, 429 or unreachable -> disallow all."""
        try:
            response = self._fetch(origin + "/robots.txt")
        except FetchError as exc:
            if exc.host_level:
                return _OriginRules(error=exc)
            status = re.match(r"HTTP (\d{3})", exc.reason)
            if status and 400 <= int(status.group(1)) < 500 and status.group(1) != "429":
                return _OriginRules()
            return _OriginRules(error=FetchError(f"robots.txt unreachable: {exc.reason}"))
        parser = RobotFileParser(origin + "/robots.txt")
        parser.parse(response.data.decode("utf-8", errors="replace").splitlines())
        parser.modified()  # can_fetch() answers False until the parser looks "read"
        error = self._apply_crawl_delay(host_of(origin), parser)
        return _OriginRules(parser=parser, error=error)

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
        self.intervals.lengthen(host, seconds)
        return None


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
