"""The real ``ingest_urls`` DAG (``dag.test()`` in an Airflow subprocess) against a news site
the test serves on loopback: a feed and URLs in, one outcome each, the pages indexed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from etl.backends.base import SearchRequest
from etl.backends.sqlite.backend import SqliteBackend
from tests.airflow_fixtures import airflow_env, migrate, run_dag
from tests.paths import EXAMPLES
from tests.sites import Reply, Site, rss, running

HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture(scope="module")
def example_feed_site() -> Iterator[Site]:
    """Three example articles and a feed of two of them; robots.txt allows all."""
    site = Site()
    pages = {
        "/a": "ledgerline-finance-ecb-holds-rates.html",
        "/b": "alpine-science-daily-aletsch-glacier-melt.html",
        "/c": "coastline-sports-wire-copenhagen-half-marathon.html",
    }
    for path, name in pages.items():
        site.route(path, Reply(200, (EXAMPLES / name).read_bytes(), HTML))
    site.route(
        "/feed.xml",
        Reply(200, rss([site.url("/a"), site.url("/b")]), {"Content-Type": "application/rss+xml"}),
    )
    site.route(
        "/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"})
    )
    with running(site) as (s,):
        yield s


@pytest.mark.airflow
@pytest.mark.slow
def test_ingest_urls_dag_fetches_and_indexes(example_feed_site: Site, tmp_path: Path) -> None:
    index = tmp_path / "index.db"
    env = airflow_env(
        tmp_path,
        ARTICLE_ETL_INDEX=str(index),
        ARTICLE_ETL_ALLOWED_NETWORKS="127.0.0.0/8",
        ARTICLE_ETL_FETCH_RATE_PER_HOST="50",
    )
    migrate(env)
    conf: dict[str, Any] = {
        "urls": [example_feed_site.url("/c"), example_feed_site.url("/gone")],
        "feeds": [example_feed_site.url("/feed.xml")],
        "batch_size": 5,
    }
    result = run_dag("ingest_urls", env, runs=[conf])
    run = result["runs"][0]
    assert run["state"] == "success", result["log"][-4000:]
    assert run["xcoms"]["report"]["counts"] == {
        "indexed": 3,
        "unchanged": 0,
        "duplicate": 0,
        "rejected": 1,
    }
    backend = SqliteBackend(index)
    found = backend.search(SearchRequest(facets=["site"]))
    assert found.total == 3
    assert {v.value for v in found.facets["site"]} == {
        "Ledgerline Finance",
        "Alpine Science Daily",
        "Coastline Sports Wire",
    }
    assert {h.source for h in found.hits} == {example_feed_site.url(p) for p in ("/a", "/b", "/c")}
    backend.close()
