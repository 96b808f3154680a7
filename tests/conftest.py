"""Shared fixtures. Tests run with one worker process (the model loads once per test session)
and a temporary embedded index, so they never touch the user's data/ folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from etl.settings import Settings

if TYPE_CHECKING:
    from etl.backends.elasticsearch import ElasticsearchBackend
    from tests.es_double import EsDouble
    from tests.host_clock import ClockLog

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "articles"
SEED_DIR = ROOT.parent / "shared" / "seeds"
SEED = SEED_DIR / "000_4b628f65354b724e.txt"
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


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("ARTICLE_ETL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ARTICLE_ETL_INDEX", str(tmp_path / "index.db"))
    monkeypatch.setenv("ARTICLE_ETL_WORKERS", "1")


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


@pytest.fixture
def es() -> Iterator[EsDouble]:
    """The loopback Elasticsearch stand-in (records requests, injects faults; never searches)."""
    from tests.es_double import EsDouble

    with EsDouble() as double:
        yield double


@pytest.fixture
def es_backend(es_settings: Settings) -> Iterator[ElasticsearchBackend]:
    """An ElasticsearchBackend set up against the stand-in (``es_settings``: per module)."""
    from etl import es_admin
    from etl.backends.elasticsearch import ElasticsearchBackend

    es_admin.setup(es_settings)
    backend = ElasticsearchBackend.from_settings(es_settings)
    yield backend
    backend.close()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ClockLog:
    """The fetcher's per-host clock, recorded (tests/host_clock.py)."""
    from tests.host_clock import record_host_clock

    return record_host_clock(monkeypatch)
