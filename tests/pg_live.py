"""Helpers for the tests that need a real PostgreSQL server (``ARTICLE_ETL_TEST_PG_URL``).

The test command (``scripts/test.sh``) starts one (``scripts/pg_node.sh``), exports its URL as
``ARTICLE_ETL_TEST_PG_URL`` and sets ``ARTICLE_ETL_REQUIRE_ES=1``: then a missing server fails
these tests instead of skipping them. Run by hand without a server, they skip. Each test gets
a schema of its own (``fresh_schema``), dropped afterwards.

The variables are read when this module is imported (collection): the autouse fixture of
``tests/conftest.py`` clears every ``ARTICLE_ETL_*`` variable before each test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

PG_URL = os.environ.get("ARTICLE_ETL_TEST_PG_URL", "")
REQUIRED = os.environ.get("ARTICLE_ETL_REQUIRE_ES") == "1"


def pg_url() -> str:
    if PG_URL:
        return PG_URL
    if REQUIRED:
        pytest.fail(
            "ARTICLE_ETL_TEST_PG_URL is not set but ARTICLE_ETL_REQUIRE_ES=1: "
            "PostgreSQL did not start (scripts/pg_node.sh)"
        )
    pytest.skip(
        "ARTICLE_ETL_TEST_PG_URL not set: no PostgreSQL here (bash scripts/pg_node.sh start)"
    )


def in_schema(url: str, schema: str) -> str:
    """``url`` with ``schema`` as the connection's search path."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@contextmanager
def fresh_schema() -> Iterator[str]:
    """The URL of a new, empty schema on the test server (dropped afterwards)."""
    url = pg_url()
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield in_schema(url, name)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")
