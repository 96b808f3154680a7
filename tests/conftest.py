"""The fixtures of every test, defined once. Tests run with one worker process (the model loads
once per test session) and a temporary embedded index, so they never touch the user's data/
folder. Also: the loopback news site and the fetcher's recorded clock (web tests), the
Elasticsearch double and settings on it (backend tests), and a ledger over each database
(ledger tests)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import etl.web.connections as connections
from etl import disk_cache
from etl.backends.elasticsearch import admin as es_admin
from etl.backends.elasticsearch.backend import ElasticsearchBackend
from etl.ledger import Ledger
from etl.settings import Settings
from tests.es_double import EsDouble
from tests.paths import EXAMPLES, SEED
from tests.pg_live import fresh_schema
from tests.sites import Site, news_site, running
from tests.web.host_clock import ClockLog, record_host_clock

# What the seed article must yield (the core issue's acceptance criteria).
SEED_PEOPLE = frozenset(
    {
        "Vladimir Putin",
        "Yuri Ushakov",
        "Narendra Modi",
        "Donald Trump",
        "Steve Witkoff",
        "Jared Kushner",
    }
)
SEED_PLACES = frozenset({"Donbas", "Ukraine", "Russia", "Moscow", "New Delhi"})


@pytest.fixture(scope="session")
def session_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The disk cache of the test session (``etl.disk_cache``): built by the first test that
    needs it, never the user's own."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, session_cache_dir: Path
) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("ARTICLE_ETL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ARTICLE_ETL_INDEX", str(tmp_path / "index.db"))
    monkeypatch.setenv("ARTICLE_ETL_WORKERS", "1")
    monkeypatch.setenv("ARTICLE_ETL_CACHE_DIR", str(session_cache_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(session_cache_dir))  # Settings()' default
    disk_cache.use_directory(None)  # what a test's run set does not reach the next test
    yield
    disk_cache.use_directory(None)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(index=str(tmp_path / "index.db"), workers=1)


@pytest.fixture
def seed() -> Path:
    if not SEED.exists():
        pytest.skip(f"the example article {SEED} is not beside this checkout")
    return SEED


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


# --- web: the loopback news site, loopback only, the per-host clock ---------------------


@pytest.fixture
def site() -> Iterator[Site]:
    """The standard news site (``tests.sites.news_site``), served on loopback."""
    with running(news_site()) as (s,):
        yield s


@pytest.fixture
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the fetcher ever opens a socket to a non-loopback address."""
    real = connections.create_connection

    def guarded(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        assert address[0].startswith("127."), f"connection attempted to {address[0]}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(connections, "create_connection", guarded)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ClockLog:
    """The fetcher's per-host clock, recorded (tests/web/host_clock.py)."""
    return record_host_clock(monkeypatch)


# --- backends: the Elasticsearch double and settings on it ----------------------------------


@pytest.fixture
def es() -> Iterator[EsDouble]:
    """The loopback Elasticsearch stand-in (records requests, injects faults; never searches)."""
    with EsDouble() as double:
        yield double


@pytest.fixture
def es_settings(es: EsDouble) -> Settings:
    """Settings on the double, with retries enough for its fault scenarios and no real backoff."""
    return Settings(index=es.url, es_retry_initial_backoff=0.001, es_max_retries=4)


@pytest.fixture
def es_backend(es_settings: Settings) -> Iterator[ElasticsearchBackend]:
    """An ElasticsearchBackend set up against the stand-in."""
    es_admin.setup(es_settings)
    backend = ElasticsearchBackend.from_settings(es_settings)
    yield backend
    backend.close()


# --- ledger: one ledger over each database -------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLite file in the test's folder, then a fresh schema on the PostgreSQL test server."""
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.db")
        return
    with fresh_schema() as url:
        yield url


@pytest.fixture
def ledger(ledger_location: str) -> Iterator[Ledger]:
    """The ledger at ``ledger_location``, closed after the test."""
    opened = Ledger(ledger_location)
    try:
        yield opened
    finally:
        opened.close()
