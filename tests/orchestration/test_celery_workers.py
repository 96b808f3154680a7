"""Two Celery workers on one inbox, one ledger and one index: one worker is killed with kill -9
halfway, and the run still ends with every input indexed exactly once (issue 16).

A throwaway Airflow of ``scripts/celery_stack.sh`` (CeleryExecutor, broker Redis), two workers
of concurrency 1, the real ``ingest_files`` DAG over one inbox. Shared by both workers, as
between machines: the ledger, a new PostgreSQL database on the test server
(``ARTICLE_ETL_LEDGER=postgresql://...``), and the index: the real Elasticsearch node under an
alias of this test when ``ES_URL`` is set (the test command sets it), the embedded index
otherwise. Airflow's metadata DB is another new database on the same server; both are dropped
at the end. The test command (``scripts/test.sh``) starts PostgreSQL and Redis and sets
``ARTICLE_ETL_TEST_PG_URL``, ``ARTICLE_ETL_TEST_REDIS_URL`` and ``ARTICLE_ETL_REQUIRE_ES=1``: then
a missing server fails the test; run by hand without them, it skips.

Once a batch runs on a worker and another batch has finished, that worker is killed with its
whole process group (the worker, its pool process and the task: as when its machine dies). The
scheduler sees the task's heartbeat stop, fails that try, and the retry runs on the other
worker. At the end the index holds exactly one document per input, the ledger names exactly
those documents (the same id for each input, one ``indexed`` outcome per input over all runs,
nothing left pending), and a second run finds every input unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, LiteralString

import psycopg
import pytest
from elasticsearch import Elasticsearch
from psycopg.rows import dict_row

from etl.backends.elasticsearch import admin as es_admin
from etl.settings import Settings
from tests import pg_live
from tests.celery_stack import (
    CeleryStack,
    Worker,
    alive,
    celery_stack,
    descendants,
    fresh_database,
    redis_url,
)
from tests.es_live import drop_alias_family, unique_alias
from tests.local_airflow import copy_articles, wait_for
from tests.paths import EXAMPLES, ROOT

BATCH_SIZE = 2  # 12 example articles: 6 batches, 3 rounds on two workers
ES_URL = os.environ.get("ES_URL", "")  # the test command's node (tests/es_live.py)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryStack]:
    server = pg_live.pg_url()  # fails under the test command when missing, else skips
    broker = redis_url()
    base = tmp_path_factory.mktemp("celery-workers")
    inbox = base / "inbox"
    copy_articles(EXAMPLES, inbox)
    alias = unique_alias("celery")  # of the Elasticsearch index; the embedded one ignores it
    with fresh_database(server, "ledger") as ledger:
        try:
            with celery_stack(
                base,
                inbox=inbox,
                index=ES_URL or str(base / "index.db"),
                pg_url=server,
                redis_url=broker,
                ARTICLE_ETL_LEDGER=ledger,
                # A killed worker's task is failed 20 s after its last heartbeat (default: 5
                # minutes; a task heartbeats every 5 s), and retried 2 s later (default 30 s).
                AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="20",
                AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="5",
                ARTICLE_ETL_TASK_RETRY_DELAY="2",
                ARTICLE_ETL_ES_ALIAS=alias,
            ) as s:
                yield s
        finally:
            if ES_URL:
                settings = Settings(index=ES_URL, es_alias=alias)
                client = Elasticsearch(ES_URL)
                try:
                    drop_alias_family(client, settings)
                finally:
                    client.close()


def index_env(stack: CeleryStack) -> dict[str, str]:
    """The environment of an ``article-etl`` command on the stack's index and ledger."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARTICLE_ETL_")}
    env.update({k: v for k, v in stack.env.items() if k.startswith("ARTICLE_ETL_")})
    return env


def index_documents(stack: CeleryStack) -> list[dict[str, Any]]:
    """Every document of the stack's index (``article-etl export``), once the index shows
    everything written (an Elasticsearch refresh)."""
    env = index_env(stack)
    if ES_URL:
        settings = Settings(index=ES_URL, es_alias=env["ARTICLE_ETL_ES_ALIAS"])
        with Elasticsearch(ES_URL) as client:
            client.indices.refresh(index=es_admin.index_pattern(settings))
    done = subprocess.run(
        [sys.executable, "-m", "etl", "export", "-"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def ledger_rows(
    stack: CeleryStack, query: LiteralString, params: tuple[Any, ...] = ()
) -> list[dict[str, Any]]:
    with psycopg.connect(stack.env["ARTICLE_ETL_LEDGER"], row_factory=dict_row) as conn:
        return list(conn.execute(query, params).fetchall())


def assert_ledger_and_index_agree(stack: CeleryStack, inputs: list[str]) -> dict[str, str]:
    """One document per input in the index, the ledger's per-input state naming exactly those
    documents, one ``indexed`` outcome per input over all runs, nothing pending. Returns
    source -> document id."""
    docs = index_documents(stack)
    ids = Counter(str(d["id"]) for d in docs)
    assert not [i for i, n in ids.items() if n > 1], f"ids repeated in the index: {ids}"
    in_index = {str(d["source"]): str(d["id"]) for d in docs}
    assert len(docs) == len(inputs), f"{len(docs)} documents for {len(inputs)} inputs"
    assert sorted(in_index) == inputs, "exactly one document per input"

    sources = ledger_rows(stack, "SELECT source, outcome, doc_id FROM ledger_sources")
    assert sorted(r["source"] for r in sources) == inputs
    assert {r["source"]: r["outcome"] for r in sources} == dict.fromkeys(inputs, "indexed")
    assert {r["source"]: r["doc_id"] for r in sources} == in_index, "ledger and index disagree"

    indexed = Counter(
        r["source"]
        for r in ledger_rows(stack, "SELECT source FROM ledger_outcomes WHERE outcome='indexed'")
    )
    assert indexed == Counter(inputs), f"inputs not indexed exactly once: {indexed}"
    pending = ledger_rows(stack, "SELECT run_id, source, doc_id, kind FROM ledger_pending")
    assert pending == [], f"left pending: {pending}"
    return in_index


def batch_tis(stack: CeleryStack, run_id: str) -> list[dict[str, Any]]:
    return [
        ti
        for ti in stack.task_instances("ingest_files", run_id)
        if ti["task_id"] == "ingest_batch" and ti["map_index"] >= 0
    ]


@dataclass(frozen=True)
class Victim:
    worker: Worker
    map_index: int  # of its ingest_batch task instance
    ledger_run: str  # the ledger run of that task's ingest
    task_pid: int  # the process running the ingest (a descendant of the worker)
    claims: int  # inputs its ledger run held when it was picked


def run_seconds(run: Mapping[str, Any]) -> float:
    from datetime import datetime

    start, end = (datetime.fromisoformat(str(run[k])) for k in ("start_date", "end_date"))
    return (end - start).total_seconds()


@pytest.mark.airflow
@pytest.mark.slow
def test_a_worker_killed_halfway_loses_and_repeats_nothing(stack: CeleryStack) -> None:
    inputs = sorted(str(p) for p in Path(stack.env["ARTICLE_ETL_INBOX"]).iterdir())
    assert len(stack.workers) == 2
    t0 = time.monotonic()
    run_id = stack.trigger("ingest_files", {"batch_size": BATCH_SIZE})

    def halfway() -> Victim | None:
        """A batch whose ingest is under way (its ledger run started, by a process the
        worker started) once another batch has finished."""
        batches = batch_tis(stack, run_id)
        if not any(ti["state"] == "success" for ti in batches):
            return None
        ingesting = ledger_rows(
            stack,
            "SELECT r.run_id, r.owner, (SELECT COUNT(*) FROM ledger_claims c "
            "WHERE c.run_id = r.run_id) AS claims FROM ledger_runs r WHERE r.status = 'running'",
        )
        for ti in batches:
            if ti["state"] != "running" or ti["hostname"] not in nodes:
                continue
            worker = stack.worker_by_node(str(ti["hostname"]))
            below = descendants(worker.pid)
            for r in ingesting:
                pid = int(json.loads(r["owner"])["pid"])
                if pid in below:
                    return Victim(worker, int(ti["map_index"]), r["run_id"], pid, r["claims"])
        run_state = stack.api().run("ingest_files", run_id)["state"]
        assert run_state not in {"success", "failed"}, f"the run ended ({run_state}) first"
        return None

    nodes = {w.node_name for w in stack.workers.values()}
    victim = wait_for("a batch being ingested after another finished", halfway, 600, 0.3)
    stack.kill_worker(victim.worker)
    killed_at = time.monotonic() - t0
    assert not alive(victim.task_pid), "the task process died with its worker"
    survivor = next(w for w in stack.workers.values() if w is not victim.worker)
    assert survivor.alive()
    map_index = victim.map_index

    run = stack.wait_until_done("ingest_files", run_id, timeout=900)
    assert run["state"] == "success", stack.failure_summary("ingest_files", run_id)

    tis = batch_tis(stack, run_id)
    assert len(tis) == len(inputs) // BATCH_SIZE
    assert all(ti["state"] == "success" for ti in tis), stack.failure_summary(
        "ingest_files", run_id
    )
    killed = next(t for t in tis if t["map_index"] == map_index)
    assert killed["try_number"] >= 2, "the killed try was failed and retried"
    assert killed["hostname"] == survivor.node_name, "the retry ran on the other worker"
    (killed_run,) = ledger_rows(
        stack, "SELECT status FROM ledger_runs WHERE run_id = %s", (victim.ledger_run,)
    )
    assert killed_run["status"] == "interrupted", killed_run
    assert {t["hostname"] for t in tis if t["map_index"] != map_index} <= {
        w.node_name for w in stack.workers.values()
    }

    by_source = assert_ledger_and_index_agree(stack, inputs)
    first = stack.api().xcom("ingest_files", run_id, "report")
    # The killed try may have recorded part of its batch: the retry finds those unchanged.
    assert first["counts"]["indexed"] + first["counts"]["unchanged"] == len(inputs), first
    assert first["counts"]["rejected"] == 0, first

    again = stack.run_dag("ingest_files", {"batch_size": BATCH_SIZE})
    assert again["state"] == "success"
    report = stack.api().xcom("ingest_files", again["dag_run_id"], "report")
    assert report["counts"]["indexed"] == 0
    assert report["listed_unchanged"] == len(inputs), report
    assert assert_ledger_and_index_agree(stack, inputs) == by_source

    print(
        f"index {stack.env['ARTICLE_ETL_INDEX']}; killed {victim.worker.node_name} "
        f"{killed_at:.0f} s into the run while it ran ingest_batch[{map_index}] (ledger run "
        f"{victim.ledger_run}, {victim.claims} claim(s) held); its try "
        f"{killed['try_number']} ran on {survivor.node_name}; the stack started in "
        f"{stack.startup_seconds:.0f} s; the run took {run_seconds(run):.0f} s, "
        f"the second {run_seconds(again):.0f} s"
    )
