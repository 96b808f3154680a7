"""Helpers for the tests that talk to a real Elasticsearch node (``ES_URL``).

The README's test command starts the node (``scripts/es_node.sh``: Elasticsearch's own server
from its Maven Central distribution) and sets ``ES_URL`` and ``ARTICLE_ETL_REQUIRE_ES=1``; then a
missing node fails these tests instead of skipping them. Run by hand without a node, they skip.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from etl.backends.elasticsearch import admin as es_admin
from etl.settings import Settings
from tests.paths import ROOT

ES_NODE = ROOT / "scripts" / "es_node.sh"


def es_url() -> str:
    url = os.environ.get("ES_URL")
    if url:
        return url
    if os.environ.get("ARTICLE_ETL_REQUIRE_ES") == "1":
        pytest.fail("ES_URL is not set but ARTICLE_ETL_REQUIRE_ES=1: the node did not start")
    pytest.skip("ES_URL not set: no Elasticsearch node here (make es, then ES_URL=...)")


def unique_alias(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def drop_alias_family(client: Elasticsearch, settings: Settings) -> None:
    """Delete the test's versioned indices (by name: ES refuses wildcard deletes) and template."""
    found = client.indices.get(index=es_admin.index_pattern(settings), allow_no_indices=True)
    for name in found.body:
        client.indices.delete(index=name)
    if client.indices.exists_index_template(name=es_admin.template_name(settings)):
        client.indices.delete_index_template(name=es_admin.template_name(settings))


@contextmanager
def live_settings(url: str, ledger: Path, **overrides: object) -> Iterator[Settings]:
    """Settings for a fresh alias family on the node at ``url``; removed afterwards."""
    settings = Settings(
        index=url, ledger=str(ledger), workers=1, es_alias=unique_alias(), **overrides
    )  # type: ignore[arg-type]
    client = Elasticsearch(url)
    try:
        yield settings
    finally:
        try:
            drop_alias_family(client, settings)
        finally:
            client.close()


def env_for(settings: Settings) -> dict[str, str]:
    """The environment of an ``article-etl`` subprocess using ``settings``' index and ledger."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARTICLE_ETL_")}
    env.update(
        ARTICLE_ETL_INDEX=settings.index,
        ARTICLE_ETL_ES_ALIAS=settings.es_alias,
        ARTICLE_ETL_WORKERS="1",
    )
    if settings.ledger:
        env["ARTICLE_ETL_LEDGER"] = settings.ledger
    return env


class SecondNode:
    """Another real node on its own port, for faults that must not disturb the shared one
    (kill -9, restarts, node settings such as http.max_content_length)."""

    def __init__(self, port: int, *settings: str) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.settings = settings

    def _script(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "ES_PORT": str(self.port)}
        env.pop("ES_NODE_DIR", None)
        return subprocess.run(
            ["bash", str(ES_NODE), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def start(self) -> None:
        done = self._script("start", *self.settings)
        if done.returncode != 0:
            raise RuntimeError(f"node on {self.port} did not start:\n{done.stdout}{done.stderr}")

    def stop(self) -> None:
        self._script("stop")

    def pid(self) -> int:
        state = ROOT / ".cache" / "es" / f"node-{self.port}.dir"
        return int((Path(state.read_text().strip()) / "es.pid").read_text())
