"""etl.web's fetching against loopback sites: outcomes, politeness, safety, conditional re-runs."""

from __future__ import annotations

import socket
from collections.abc import Generator
from pathlib import Path
from typing import Any, cast

import pytest

from etl.record import RawInput
from etl.settings import Settings
from etl.web.dispatch import fetch_inputs
from etl.web.protocol import retry_after_seconds
from tests.sites import GZIP_BOMB, Reply, Site, article_html, news_site, running
from tests.web.host_clock import EPSILON, ClockLog

RATE = 20.0  # requests per second per host in most tests


def cfg(**changes: Any) -> Settings:
    base = Settings(
        allowed_networks=("127.0.0.0/8",),
        fetch_rate_per_host=RATE,
        fetch_concurrency=8,
        fetch_connect_timeout=2.0,
        fetch_read_timeout=0.5,
        fetch_retries=2,
        fetch_retry_backoff=0.05,
        fetch_max_redirects=5,
        max_input_bytes=100_000,
    )
    return base.with_overrides(**changes)


pytestmark = pytest.mark.usefixtures("only_loopback")


def fetch_all(urls: list[str], cfg: Settings, cache: Path, **kw: Any) -> dict[str, RawInput]:
    results = list(fetch_inputs(urls, cfg, cache_location=cache, **kw))
    keys = [r.key for r in results]
    assert sorted(keys) == sorted(dict.fromkeys(urls)), "exactly one result per URL"
    return {r.key: r for r in results}


def test_every_url_gets_the_right_outcome(site: Site, tmp_path: Path, clock: ClockLog) -> None:
    u = site.url
    expected = {
        u("/articles/1"): None,
        u("/moved"): None,
        u("/gzipped"): None,
        u("/flaky"): None,
        u("/private/secret"): "robots.txt disallows this URL",
        u("/missing"): "HTTP 404 Not Found",
        u("/slow"): "timeout after 0.5s (read)",
        u("/loop-a"): "redirect loop",
        u("/chain/0"): "too many redirects (more than 5)",
        u("/big"): "too large: more than 100,000 bytes (Content-Length 200,000)",
        u("/big-stream"): "too large: more than 100,000 bytes",
        u("/bomb"): "gzip bomb: gzip body inflates to more than 100,000 bytes",
        u("/image.png"): "not an article: content type image/png",
        u("/to-metadata"): "blocked address 169.254.169.254 (cloud metadata endpoint)",
        u("/to-private"): "blocked address 10.0.0.1 (private network)",
        "ftp://example.org/file": "unsupported URL scheme 'ftp'",
    }
    results = fetch_all(list(expected), cfg(), tmp_path / "cache.db")
    for url, reason in expected.items():
        assert results[url].rejection == reason, url
        assert results[url].kind == "url"
    # Good pages come back with their bytes, decoded, and the final URL after redirects.
    assert results[u("/articles/1")].data == article_html(1)
    assert results[u("/articles/1")].media_type == "html"
    assert results[u("/moved")].url == u("/articles/1")
    assert results[u("/gzipped")].data == article_html(8)
    assert results[u("/flaky")].data == article_html(9)
    # 429 + Retry-After: 1 -> the retry went ahead at least a second after the first try.
    flaky = clock.starts_by_path(site)["/flaky"]
    assert len(flaky) == 2 and flaky[1] - flaky[0] >= 1.0 - EPSILON
    # Politeness: robots.txt once, and request starts never closer than the rate allows.
    assert len(site.requests_for("/robots.txt")) == 1
    clock.check_polite(site.host, 1 / RATE)
    assert all(r.headers["user-agent"] == cfg().user_agent for r in site.log)
    assert not site.requests_for("/private/secret")


def test_bomb_is_small_on_the_wire() -> None:
    assert len(GZIP_BOMB) < 100_000  # the limit in these tests: only inflating exceeds it


def test_second_run_sends_conditional_requests(site: Site, tmp_path: Path) -> None:
    cache = tmp_path / "cache.db"
    urls = [site.url(f"/articles/{n}") for n in (1, 2, 3)] + [site.url("/moved")]
    first = fetch_all(urls, cfg(), cache)
    assert all(r.data and not r.not_modified for r in first.values())
    known = {url: r.raw_hash for url, r in first.items()}

    second = fetch_all(urls, cfg(), cache, known_hashes=known)
    assert all(r.not_modified and not r.data and r.rejection is None for r in second.values())
    assert second[site.url("/moved")].url == site.url("/articles/1")
    # The server saw If-None-Match on the second round (4 of the 8 article requests).
    conditional = [r for r in site.log if "if-none-match" in r.headers]
    assert len(conditional) == 4
    assert {r.headers.get("if-modified-since") for r in conditional} == {
        "Mon, 01 Jan 2024 00:00:00 GMT"
    }


def test_no_conditional_request_when_the_ledger_lacks_the_page(site: Site, tmp_path: Path) -> None:
    cache = tmp_path / "cache.db"
    url = site.url("/articles/2")
    fetch_all([url], cfg(), cache)
    # The ledger knows another hash (or nothing): a 304 would wrongly say "unchanged".
    for known in ({url: "0" * 64}, {}):
        again = fetch_all([url], cfg(), cache, known_hashes=known)
        assert again[url].data == article_html(2) and not again[url].not_modified
    assert not [r for r in site.log if "if-none-match" in r.headers]


def test_loopback_is_blocked_without_allowed_networks(site: Site, tmp_path: Path) -> None:
    results = fetch_all([site.url("/articles/1")], cfg(allowed_networks=()), tmp_path / "c")
    assert results[site.url("/articles/1")].rejection == "blocked address 127.0.0.1 (loopback)"
    assert site.log == []  # refused before any connection


def test_rate_limit_per_host_and_concurrency_across_hosts(tmp_path: Path, clock: ClockLog) -> None:
    rate = 8.0
    with running(news_site("127.0.0.1"), news_site("127.0.0.2")) as sites:
        urls = [s.url(f"/articles/{n}") for n in range(1, 7) for s in sites]
        results = fetch_all(urls, cfg(fetch_rate_per_host=rate), tmp_path / "cache.db")
        assert all(r.data for r in results.values())
        for s in sites:
            assert len(s.log) == 7  # robots.txt + 6 pages
            clock.check_polite(s.host, 1 / rate)
        # Side by side, not in turn: each host's first request came before the other's last.
        first = {s.host: min(clock.slots[s.host]) for s in sites}
        last = {s.host: max(clock.slots[s.host]) for s in sites}
        assert max(first.values()) < min(last.values())


def test_crawl_delay_is_honoured(tmp_path: Path, clock: ClockLog) -> None:
    with running(news_site()) as (s,):
        s.route("/robots.txt", Reply(200, b"User-agent: *\nCrawl-delay: 1\n"))
        urls = [s.url("/articles/1"), s.url("/articles/2")]
        fetch_all(urls, cfg(), tmp_path / "cache.db")
        assert [r.path for r in s.log] == ["/robots.txt", "/articles/1", "/articles/2"]
        clock.check_polite(s.host, 1.0)


def test_crawl_delay_longer_than_we_wait_rejects(tmp_path: Path) -> None:
    with running(news_site()) as (s,):
        s.route("/robots.txt", Reply(200, b"User-agent: *\nCrawl-delay: 3600\n"))
        result = fetch_all([s.url("/articles/1")], cfg(), tmp_path / "c")
        assert "crawl-delay 3600s is longer than the 60s" in str(
            result[s.url("/articles/1")].rejection
        )


def test_retry_after_too_long_and_5xx_retries(site: Site, tmp_path: Path) -> None:
    site.route("/busy", Reply(429, b"", {"Retry-After": "3600"}))
    site.route(
        "/down-then-up",
        lambda _req, n: (
            Reply(503) if n <= 2 else Reply(200, article_html(5), {"Content-Type": "text/html"})
        ),
    )
    site.route("/down", Reply(503))
    results = fetch_all(
        [site.url("/busy"), site.url("/down-then-up"), site.url("/down")], cfg(), tmp_path / "c"
    )
    assert (
        results[site.url("/busy")].rejection == "rate limited (Retry-After too long: 3600s > 60s)"
    )
    assert results[site.url("/down-then-up")].data == article_html(5)
    assert results[site.url("/down")].rejection == "HTTP 503 Service Unavailable"
    assert len(site.requests_for("/down")) == 3  # the first try and fetch_retries=2


def test_robots_unavailable_disallows_and_missing_allows(tmp_path: Path) -> None:
    with running(news_site("127.0.0.1"), news_site("127.0.0.2")) as (down, missing):
        down.route("/robots.txt", Reply(503))
        missing.route("/robots.txt", Reply(404))
        urls = [down.url("/articles/1"), missing.url("/private/secret")]
        results = fetch_all(urls, cfg(), tmp_path / "c")
        assert results[urls[0]].rejection == "robots.txt unreachable: HTTP 503 Service Unavailable"
        assert results[urls[1]].data == article_html(99)  # no robots.txt: no rules
        assert not down.requests_for("/articles/1")


def test_respect_robots_off(site: Site, tmp_path: Path) -> None:
    url = site.url("/private/secret")
    results = fetch_all([url], cfg(respect_robots=False), tmp_path / "c")
    assert results[url].data == article_html(99)
    assert not site.requests_for("/robots.txt")


def test_connection_refused_fails_fast_for_the_rest_of_the_host(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.3", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        urls = [f"http://127.0.0.3:{port}/a", f"http://127.0.0.3:{port}/b"]
        results = fetch_all(urls, cfg(respect_robots=False), tmp_path / "c")
    for url in urls:
        assert results[url].rejection == "connection failed: Connection refused"


def test_stopping_early_does_not_hang(site: Site, tmp_path: Path) -> None:
    """Closing the generator returns (a hang would hit the test timeout) without fetching the
    rest: after the first page, nothing more was asked of the site."""
    urls = [site.url(f"/articles/{n}") for n in range(1, 7)]
    gen = cast(Generator[RawInput], fetch_inputs(urls, cfg(), cache_location=tmp_path / "c"))
    first = next(gen)
    assert first.data
    gen.close()
    assert [r.path for r in site.log] == ["/robots.txt", "/articles/1"]


def test_retry_after_parsing() -> None:
    from datetime import UTC, datetime

    now = datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Mon, 01 Jan 2024 00:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Sun, 31 Dec 2023 00:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
