"""etl.web.discovery: URLs from the command line, list files, feeds and sitemaps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from etl.settings import Settings
from etl.web.discovery import InvalidURL, canonicalize, discover_urls, read_list_file
from tests.sites import XML, Reply, Site
from tests.web.host_clock import ClockLog

RATE = 20.0


def cfg(**changes: Any) -> Settings:
    return Settings(
        allowed_networks=("127.0.0.0/8",),
        fetch_rate_per_host=RATE,
        fetch_read_timeout=1.0,
        fetch_retries=1,
        fetch_retry_backoff=0.05,
    ).with_overrides(**changes)


pytestmark = pytest.mark.usefixtures("only_loopback")


def test_canonicalize() -> None:
    assert (
        canonicalize("HTTP://WWW.Example.COM:80/news/a.html?utm_source=x&b=2&a=1#comments")
        == "http://www.example.com/news/a.html?a=1&b=2"
    )
    assert canonicalize(" http://127.0.0.1:8080/p ") == "http://127.0.0.1:8080/p"
    for bad, reason in [
        ("ftp://example.org/x", "unsupported URL scheme 'ftp'"),
        ("example.org/x", "unsupported URL scheme '(none)'"),
        ("http:///nohost", "invalid URL: no host"),
        ("https://user:secret@example.org/x", "URL contains a user name or password"),
    ]:
        with pytest.raises(InvalidURL, match=reason.replace("(", r"\(").replace(")", r"\)")):
            canonicalize(bad)
    # Links found in feeds also pass courlan's filters (no images, no feeds).
    with pytest.raises(InvalidURL):
        canonicalize("https://www.example.org/photo.jpg", discovered=True)
    assert canonicalize("https://www.example.org/photo.jpg") == "https://www.example.org/photo.jpg"


def test_list_file(tmp_path: Path) -> None:
    listing = tmp_path / "urls.txt"
    listing.write_text(
        "# today's reading\nhttps://example.org/a\n\n  https://example.org/b  # why\n"
        "https://EXAMPLE.org/a#top\nnot a url\n"
    )
    assert read_list_file(listing) == [
        "https://example.org/a",
        "https://example.org/b",
        "https://EXAMPLE.org/a#top",
        "not a url",
    ]
    urls, rejected = discover_urls(
        ["https://example.org/c"], cfg(), list_files=[str(listing), str(tmp_path / "missing.txt")]
    )
    assert urls == ["https://example.org/c", "https://example.org/a", "https://example.org/b"]
    assert [(r.key, r.rejection) for r in rejected] == [
        ("not a url", "unsupported URL scheme '(none)'"),
        (str(tmp_path / "missing.txt"), "cannot read URL list: No such file or directory"),
    ]
    assert all(r.kind == "url" for r in rejected)


def test_feeds_and_sitemaps(site: Site, clock: ClockLog) -> None:
    u = site.url
    urls, rejected = discover_urls(
        [u("/articles/1")],
        cfg(),
        feeds=[u("/feed.xml"), u("/atom.xml"), u("/home")],
        sitemaps=[u("/sitemap.xml")],
    )
    assert rejected == []
    assert sorted(urls) == sorted(u(f"/articles/{n}") for n in range(1, 7))  # de-duplicated
    assert urls[0] == u("/articles/1")  # first-seen order
    # Fetched through our fetcher: robots.txt read, rate respected, our user agent.
    assert site.requests_for("/robots.txt")
    assert site.requests_for("/sitemap-articles.xml.gz")  # the nested sitemap
    clock.check_polite(site.host, 1 / RATE)
    assert {r.headers["user-agent"] for r in site.log} == {cfg().user_agent}


def test_sitemap_from_robots_txt(site: Site) -> None:
    urls, rejected = discover_urls([], cfg(), sitemaps=[site.url("/")])
    assert rejected == [] and len(urls) == 6


def test_discovery_rejections(site: Site) -> None:
    site.route("/not-a-feed.xml", Reply(200, b"<?xml version='1.0'?><nothing/>", XML))
    site.route("/private/feed.xml", Reply(200, b"<rss></rss>", XML))
    feeds = [
        site.url("/gone.xml"),
        "http://10.0.0.1/feed.xml",
        site.url("/not-a-feed.xml"),
        site.url("/private/feed.xml"),
        site.url("/to-metadata"),
    ]
    urls, rejected = discover_urls([], cfg(), feeds=feeds, sitemaps=[site.url("/nope.xml")])
    assert urls == []
    assert {r.key: r.rejection for r in rejected} == {
        site.url("/gone.xml"): "feed: HTTP 404 Not Found",
        "http://10.0.0.1/feed.xml": "feed: blocked address 10.0.0.1 (private network)",
        site.url("/not-a-feed.xml"): "feed: no article URLs found",
        site.url("/private/feed.xml"): "feed: robots.txt disallows this URL",
        site.url("/to-metadata"): "feed: blocked address 169.254.169.254 (cloud metadata endpoint)",
        site.url("/nope.xml"): "sitemap: HTTP 404 Not Found",
    }


def test_discovery_blocks_loopback_without_allowlist(site: Site) -> None:
    urls, rejected = discover_urls([], cfg(allowed_networks=()), feeds=[site.url("/feed.xml")])
    assert urls == []
    assert rejected[0].rejection == "feed: blocked address 127.0.0.1 (loopback)"
    assert site.log == []
