"""Real faults on real Elasticsearch nodes, each ending with the ledger and the index in
agreement: the same documents, one per input, none lost.

* the node is killed (kill -9) in the middle of an ingest, restarted, and the ingest re-run;
* a write block on the index, then lifted;
* requests over the node's http.max_content_length (a node started with it set low);
* the node stopped: every command answers with a one-line error naming the URL, exit 1.

The kill and the low request limit use nodes of their own (tests/es_live.py ``SecondNode``) so
that the node the other tests share is never disturbed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from typer.testing import CliRunner

from etl.backends.elasticsearch import admin as es_admin
from etl.cli.app import app
from etl.ledger import Ledger
from etl.settings import Settings
from tests.es_live import SecondNode, env_for, es_url, live_settings
from tests.paths import ROOT

pytestmark = [pytest.mark.live_es, pytest.mark.slow]
runner = CliRunner()
KILL_PORT = 9251
SMALL_REQUESTS_PORT = 9252
PASSWORD = "hunter2-not-shown"

WORDS = [
    "council",
    "harbour",
    "budget",
    "library",
    "river",
    "bridge",
    "school",
    "market",
    "station",
    "theatre",
    "museum",
    "park",
    "hospital",
    "tram",
    "ferry",
    "airport",
    "factory",
    "farm",
    "forest",
    "glacier",
    "coast",
    "island",
    "valley",
    "mountain",
]


def write_articles(folder: Path, count: int, words: int = 80) -> list[Path]:
    """``count`` distinct short articles (distinct texts: none is a duplicate of another)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        body = " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(words))
        path = folder / f"article-{i:03d}.txt"
        path.write_text(
            f"Report number {i} on the {WORDS[i % len(WORDS)]}\n\n"
            f"The town of Exampleton reported case {i} today. {body}.\n"
        )
        paths.append(path)
    return paths


def wait_until_gone(pid: int) -> None:
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists(), f"process {pid} outlived kill -9"


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {**env_for(settings), **extra}


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etl", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def index_ids(settings: Settings) -> list[str]:
    client = Elasticsearch(settings.index)
    try:
        client.indices.refresh(index=settings.es_alias)
        found = client.search(index=settings.es_alias, size=1000, source=False)
        return [h["_id"] for h in found.body["hits"]["hits"]]
    finally:
        client.close()


def ledger_indexed(settings: Settings, sources: list[Path]) -> dict[str, str]:
    """source -> doc id of every input the ledger records as indexed."""
    ledger = Ledger(settings.ledger_location)
    try:
        states = ledger.states([str(p) for p in sources])
        return {s: st.doc_id or "" for s, st in states.items() if st.outcome == "indexed"}
    finally:
        ledger.close()


def assert_ledger_and_index_agree(settings: Settings, sources: list[Path]) -> None:
    in_index = index_ids(settings)
    indexed = ledger_indexed(settings, sources)
    assert len(in_index) == len(set(in_index))  # no document twice
    assert sorted(in_index) == sorted(indexed.values())
    assert len(indexed) == len(sources)  # one per input, none lost


@pytest.fixture
def kill_node() -> Iterator[SecondNode]:
    es_url()  # skip (or fail, under the test command) without a node
    node = SecondNode(KILL_PORT)
    node.start()
    try:
        yield node
    finally:
        node.stop()


def test_node_killed_during_ingest_then_restarted_and_rerun(
    kill_node: SecondNode, tmp_path: Path
) -> None:
    sources = write_articles(tmp_path / "inbox", 60)
    with live_settings(kill_node.url, tmp_path / "ledger.db") as settings:
        es_admin.setup(settings)
        # Few retries with short backoff: the run gives up soon after the node is gone.
        env = cli_env(
            settings,
            ARTICLE_ETL_ES_MAX_RETRIES="1",
            ARTICLE_ETL_ES_RETRY_BACKOFF="0.1",
            ARTICLE_ETL_ES_CHUNK_DOCS="4",
        )
        ingest = subprocess.Popen(
            [sys.executable, "-m", "etl", "ingest", str(tmp_path / "inbox"), "--json"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        client = Elasticsearch(settings.index)
        try:
            deadline = time.monotonic() + 240
            while ingest.poll() is None and time.monotonic() < deadline:
                # Documents written, searchable or not yet (a run refreshes once, at its end).
                stats = client.indices.stats(index=settings.es_alias, metric="indexing")
                if stats.body["_all"]["primaries"]["indexing"]["index_total"] > 0:
                    break
                time.sleep(0.05)
        finally:
            client.close()
        assert ingest.poll() is None, "the ingest ended before the node could be killed"
        pid = kill_node.pid()
        os.kill(pid, signal.SIGKILL)
        wait_until_gone(pid)
        _, stderr = ingest.communicate(timeout=240)
        assert ingest.returncode == 1, stderr
        assert "Traceback" not in stderr
        assert f"Elasticsearch at {kill_node.url}" in stderr

        kill_node.start()  # the same data folder: what was acknowledged before the kill
        rerun = run_cli(env, "ingest", str(tmp_path / "inbox"), "--json")
        assert rerun.returncode == 0, rerun.stderr
        assert_ledger_and_index_agree(settings, sources)
        again = json.loads(run_cli(env, "ingest", str(tmp_path / "inbox"), "--json").stdout)
        assert again["counts"]["unchanged"] == len(sources)
        status = run_cli(env, "status", "--json")
        runs = json.loads(status.stdout)["runs"]
        assert all(r["status"] != "running" for r in runs)


def test_write_block_fails_the_run_clearly_then_the_next_run_indexes(tmp_path: Path) -> None:
    sources = write_articles(tmp_path / "inbox", 6)
    with live_settings(es_url(), tmp_path / "ledger.db") as settings:
        es_admin.setup(settings)
        client = Elasticsearch(settings.index)
        index = es_admin.current_write_index(client, settings)
        client.indices.put_settings(index=index, settings={"index.blocks.write": True})
        env: dict[str, str | None] = dict(cli_env(settings))
        try:
            blocked = runner.invoke(app, ["ingest", str(tmp_path / "inbox")], env=env)
            assert blocked.exit_code == 1
            lines = blocked.stderr.strip().splitlines()
            assert len(lines) == 1 and "blocked" in lines[0], blocked.stderr
            assert ledger_indexed(settings, sources) == {}  # pending, not rejected
            ledger = Ledger(settings.ledger_location)
            try:
                assert ledger.states([str(p) for p in sources]) == {}
            finally:
                ledger.close()
        finally:
            client.indices.put_settings(index=index, settings={"index.blocks.write": None})
            client.close()
        done = runner.invoke(app, ["ingest", str(tmp_path / "inbox"), "--json"], env=env)
        assert done.exit_code == 0, done.output
        assert json.loads(done.stdout)["counts"]["indexed"] == len(sources)
        assert_ledger_and_index_agree(settings, sources)


@pytest.fixture(scope="module")
def small_requests_node() -> Iterator[SecondNode]:
    es_url()
    node = SecondNode(SMALL_REQUESTS_PORT, "-Ehttp.max_content_length=48kb")
    node.start()
    try:
        yield node
    finally:
        node.stop()


def test_requests_over_max_content_length_are_split_or_recorded(
    small_requests_node: SecondNode, tmp_path: Path
) -> None:
    # ~12 KB documents: a few fit in one request, the default chunk (200 docs) does not.
    sources = write_articles(tmp_path / "inbox", 12, words=1200)
    huge = tmp_path / "inbox" / "huge.txt"
    huge.write_text("A very long report\n\n" + " ".join(f"word{i}" for i in range(12000)) + ".\n")
    with live_settings(small_requests_node.url, tmp_path / "ledger.db") as settings:
        es_admin.setup(settings)
        env: dict[str, str | None] = dict(cli_env(settings))
        done = runner.invoke(app, ["ingest", str(tmp_path / "inbox"), "--json"], env=env)
        report = json.loads(done.stdout)
        by_name = {Path(o["source"]).name: o for o in report["outcomes"]}
        assert by_name["huge.txt"]["outcome"] == "rejected"
        assert "413" in by_name["huge.txt"]["reason"]
        assert "max_content_length" in by_name["huge.txt"]["reason"]
        assert all(by_name[p.name]["outcome"] == "indexed" for p in sources)
        assert_ledger_and_index_agree(settings, sources)


def test_every_command_against_a_stopped_node_is_one_line_and_exit_1(
    small_requests_node: SecondNode, tmp_path: Path
) -> None:
    small_requests_node.stop()
    url = f"http://elastic:{PASSWORD}@127.0.0.1:{SMALL_REQUESTS_PORT}"
    shown = f"http://127.0.0.1:{SMALL_REQUESTS_PORT}"
    settings = Settings(index=url, ledger=str(tmp_path / "ledger.db"), es_alias="stopped")
    write_articles(tmp_path / "inbox", 1)
    commands = [
        ["es", "setup"],
        ["es", "status"],
        ["es", "reindex"],
        ["search", "harbour"],
        ["stats"],
        ["show", "0123456789abcdef0123"],
        ["export"],
        ["ingest", str(tmp_path / "inbox")],
    ]
    for command in commands:
        # 60 s bounds a hang; the answer comes at once (no retries when nothing listens).
        done = run_cli(cli_env(settings), *command, timeout=60)
        assert done.returncode == 1, (command, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, (command, done.stderr)
        assert f"cannot reach Elasticsearch at {shown} (connection refused)" in lines[0], command
        assert PASSWORD not in done.stderr + done.stdout
