"""Shared fixtures. Tests run with one worker process (the model loads once per test session)
and a temporary embedded index, so they never touch the user's data/ folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from etl.settings import Settings
from tests.paths import EXAMPLES, SEED

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
