"""What only the embedded backend does (the shared behaviour is in test_backend_contract.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from etl.backends.base import IndexSetupError
from etl.backends.sqlite import SqliteBackend, to_fts_query
from etl.cli import app


def test_an_index_of_another_format_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIRTUAL TABLE articles_fts USING fts5(id UNINDEXED, title, text)")
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    with pytest.raises(IndexSetupError, match="--reprocess"):
        SqliteBackend(path)
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["search", "x", "--index", str(path)])
    assert result.exit_code == 1
    assert "another version" in result.output


def test_fts_query_translation() -> None:
    assert to_fts_query("port strike") == '"port" "strike"'
    assert to_fts_query('"dock workers" glaci*') == '"dock workers" "glaci"*'
    assert to_fts_query("Putin's OR Modi") == '"Putin" OR "Modi"'
    assert to_fts_query("AND ( ) - :") == ""
