"""URLs through the whole pipeline, against a news site the test serves on loopback: every URL
ends in one recorded outcome, good pages are indexed with their metadata, and a second run
costs one conditional request per page and no parsing."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl.backends.base import SearchRequest
from etl.backends.sqlite.backend import SqliteBackend
from etl.pipeline import ingest
from etl.settings import Settings
from tests.paths import EXAMPLES
from tests.sites import Reply, Request, Site, rss, running

PAGES = {
    "/news/port-strike": "harbor-ledger-rotterdam-port-strike.html",
    "/tech/solar-edge": "northwind-tech-review-solar-edge-servers.html",
    "/culture/library": "riverside-courier-bristol-library-reopens.html",
}


def page_route(body: bytes):  # type: ignore[no-untyped-def]
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def reply(request: Request, _count: int) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(200, body, {"Content-Type": "text/html; charset=utf-8", "ETag": etag})

    return reply


@pytest.fixture
def example_news_site() -> Iterator[Site]:
    """Example articles with a feed, robots.txt, a disallowed page, an image and a menu page."""
    site = Site()
    for path, name in PAGES.items():
        site.route(path, page_route((EXAMPLES / name).read_bytes()))
    site.route(
        "/feed.xml",
        Reply(200, rss([site.url(p) for p in PAGES]), {"Content-Type": "application/rss+xml"}),
    )
    site.route(
        "/robots.txt",
        Reply(200, b"User-agent: *\nDisallow: /private/\n", {"Content-Type": "text/plain"}),
    )
    site.route("/private/page", page_route(b"<html><body><p>secret</p></body></html>"))
    site.route("/logo.png", Reply(200, b"\x89PNG\r\n\x1a\n", {"Content-Type": "image/png"}))
    site.route(
        "/menu",
        Reply(
            200,
            b"<html><body><nav>"
            + b"".join(b"<a href='/p%d'>Section %d</a><br>" % (i, i) for i in range(30))
            + b"</nav></body></html>",
            {"Content-Type": "text/html"},
        ),
    )
    with running(site) as (s,):
        yield s


def settings_for(tmp_path: Path) -> Settings:
    return Settings(
        index=str(tmp_path / "urls.db"),
        workers=1,
        allowed_networks=("127.0.0.0/8",),
        fetch_rate_per_host=50.0,
        fetch_read_timeout=5.0,
    )


def test_feed_and_urls_are_ingested_with_one_outcome_each(
    example_news_site: Site, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    extra = [
        example_news_site.url("/private/page"),
        example_news_site.url("/missing"),
        example_news_site.url("/logo.png"),
        example_news_site.url("/menu"),
    ]
    report = ingest(extra, settings, feeds=[example_news_site.url("/feed.xml")])
    got = {
        o.source.removeprefix(example_news_site.origin): (o.outcome.value, o.reason)
        for o in report.outcomes
    }
    assert got == {
        "/news/port-strike": ("indexed", ""),
        "/tech/solar-edge": ("indexed", ""),
        "/culture/library": ("indexed", ""),
        "/private/page": ("rejected", "robots.txt disallows this URL"),
        "/missing": ("rejected", "HTTP 404 Not Found"),
        "/logo.png": ("rejected", "not an article: content type image/png"),
        "/menu": (
            "rejected",
            "not an article: the page's text is mostly links (navigation or listing)",
        ),
    }
    index = SqliteBackend(settings.index)
    result = index.search(SearchRequest(query="Rotterdam", facets=["site", "author"]))
    assert result.total == 1
    doc = index.get(result.hits[0].id) or {}
    assert doc["source"] == example_news_site.url("/news/port-strike")
    assert doc["source_kind"] == "url"
    assert doc["site"] == "The Harbor Ledger"
    assert doc["author"] == ["Daniel Ferreira"]
    assert doc["published"] == "2024-11-07T09:42:00+01:00"
    assert doc["published_source"] == "structured_data"
    assert {"name": "Port of Rotterdam", "type": "location"}.items() <= next(
        e for e in doc["entities"] if e["name"] == "Port of Rotterdam"
    ).items()
    index.close()


def test_second_run_is_conditional_and_parses_nothing(
    example_news_site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path)
    urls = [example_news_site.url(p) for p in PAGES]
    assert ingest(urls, settings).counts["indexed"] == 3
    monkeypatch.setattr("etl.process.extract", lambda *a, **k: pytest.fail("parsed again"))
    again = ingest(urls, settings)
    assert again.counts == {"indexed": 0, "unchanged": 3, "duplicate": 0, "rejected": 0}
    for path in PAGES:
        first, second = example_news_site.requests_for(path)
        assert "if-none-match" not in first.headers
        assert second.headers["if-none-match"]


def test_cli_takes_urls_as_well_as_paths(example_news_site: Site, tmp_path: Path) -> None:
    env = {
        "ARTICLE_ETL_INDEX": str(tmp_path / "cli.db"),
        "ARTICLE_ETL_WORKERS": "1",
        "ARTICLE_ETL_ALLOWED_NETWORKS": "127.0.0.0/8",
        "ARTICLE_ETL_FETCH_RATE_PER_HOST": "50",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "etl",
            "ingest",
            example_news_site.url("/tech/solar-edge"),
            str(EXAMPLES / "azores-seafloor-cable-sensing.txt"),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    import json

    report = json.loads(done.stdout)
    assert report["counts"]["indexed"] == 2
    assert {o["source"] for o in report["outcomes"]} == {
        example_news_site.url("/tech/solar-edge"),
        str(EXAMPLES / "azores-seafloor-cable-sensing.txt"),
    }
