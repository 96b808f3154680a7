"""The whole pipeline with its ledger in PostgreSQL (the embedded index beside it): a second
run over the same inputs finds every one unchanged, and nothing of the ledger is on local disk."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from etl.ledger import Ledger
from etl.pipeline import ingest
from etl.settings import Settings
from tests.pg_live import fresh_schema


def test_ingest_twice_with_a_postgresql_ledger(examples: Path, tmp_path: Path) -> None:
    with fresh_schema() as url:
        settings = Settings(index=str(tmp_path / "index.db"), ledger=url, workers=1)
        first = ingest([str(examples)], settings)
        assert first.status == "ok"
        assert first.counts["indexed"] > 0
        assert sum(first.counts.values()) == len(first.outcomes)
        second = ingest([str(examples)], settings)
        assert second.status == "ok"
        assert {o.outcome.value for o in second.outcomes} == {"unchanged"}
        assert len(second.outcomes) == len(first.outcomes)

        ledger = Ledger(url)
        try:
            assert [r["status"] for r in ledger.runs()] == ["ok", "ok"]
            assert ledger.claims() == {}  # every claim released with its outcome
            assert sum(ledger.counts_by_outcome().values()) == len(first.outcomes)
        finally:
            ledger.close()
    conn = sqlite3.connect(tmp_path / "index.db")
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert not {t for t in tables if t.startswith(("ledger_", "fetch_cache"))}
    # Nothing but the index (and its WAL files) on local disk.
    assert {p.name for p in tmp_path.iterdir()} <= {"index.db", "index.db-shm", "index.db-wal"}
