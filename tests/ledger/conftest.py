"""``ledger_location``: every ledger test runs over both databases, a SQLite file in the test's
folder and a fresh schema on the PostgreSQL test server (``tests/pg_live.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from etl.ledger import Ledger
from tests.pg_live import fresh_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.db")
        return
    with fresh_schema() as url:
        yield url


@pytest.fixture
def ledger(ledger_location: str) -> Iterator[Ledger]:
    opened = Ledger(ledger_location)
    try:
        yield opened
    finally:
        opened.close()
