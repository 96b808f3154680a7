"""Two Celery workers on one inbox: one is killed with kill -9 halfway, and the run still ends
with every input indexed exactly once (issue 16).

A throwaway Airflow of ``scripts/celery_stack.sh`` (CeleryExecutor; metadata DB in PostgreSQL,
broker Redis, both from Debian's packages on 127.0.0.1, started here and stopped at the end),
two workers of concurrency 1, the real ``ingest_files`` DAG over one inbox into one index.
Once a batch runs on a worker and another batch has finished, that worker is killed with its
whole process group (the worker, its pool process and the task: as when its machine dies).
The scheduler sees the task's heartbeat stop, fails that try, and the retry runs on the other
worker. At the end the index holds exactly one document per input, and a second run finds
every input unchanged (the ledger knows each one).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery_stack import CeleryStack, celery_stack
from local_airflow import copy_articles, wait_for

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "articles"
BATCH_SIZE = 2  # 12 example articles: 6 batches, 3 rounds on two workers


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryStack]:
    base = tmp_path_factory.mktemp("celery-workers")
    inbox = base / "inbox"
    copy_articles(EXAMPLES, inbox)
    with celery_stack(
        base,
        inbox=inbox,
        index=base / "index.db",
        # A killed worker's task is failed 30 s after its last heartbeat (default: 5 minutes).
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="30",
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="5",
    ) as s:
        yield s


def exported(index: str) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "etl", "export", "-", "--index", index],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@pytest.mark.airflow
@pytest.mark.slow
def test_a_worker_killed_halfway_loses_and_repeats_nothing(stack: CeleryStack) -> None:
    inputs = sorted(str(p) for p in Path(stack.env["ARTICLE_ETL_INBOX"]).iterdir())
    assert len(stack.workers) == 2
    run_id = stack.trigger("ingest_files", {"batch_size": BATCH_SIZE})

    def halfway() -> tuple[str, int] | None:
        tis = stack.task_instances("ingest_files", run_id)
        batches = [ti for ti in tis if ti["task_id"] == "ingest_batch" and ti["map_index"] >= 0]
        done = [ti for ti in batches if ti["state"] == "success"]
        running = [ti for ti in batches if ti["state"] == "running"]
        nodes = {w.node_name for w in stack.workers.values()}
        for ti in running:
            if done and ti["hostname"] in nodes:
                return str(ti["hostname"]), int(ti["map_index"])
        run_state = stack.api().run("ingest_files", run_id)["state"]
        assert run_state not in {"success", "failed"}, f"the run ended ({run_state}) first"
        return None

    node, map_index = wait_for("a batch running after another finished", halfway, 600, 0.5)
    victim = stack.worker_by_node(node)
    stack.kill_worker(victim)
    survivor = next(w for w in stack.workers.values() if w is not victim)
    assert survivor.alive()

    run = stack.wait_until_done("ingest_files", run_id, timeout=900)
    assert run["state"] == "success", stack.failure_summary("ingest_files", run_id)

    tis = stack.task_instances("ingest_files", run_id)
    killed = next(t for t in tis if t["task_id"] == "ingest_batch" and t["map_index"] == map_index)
    assert killed["state"] == "success"
    assert killed["try_number"] >= 2, "the killed try was failed and retried"
    assert killed["hostname"] == survivor.node_name, "the retry ran on the other worker"

    print(
        f"killed {victim.node_name} while it ran ingest_batch[{map_index}]; its try "
        f"{killed['try_number']} ran on {survivor.node_name}; the stack started in "
        f"{stack.startup_seconds:.0f} s; the run took {run['start_date']} -> {run['end_date']}"
    )
    records = exported(stack.env["ARTICLE_ETL_INDEX"])
    sources = sorted(str(r["source"]) for r in records)
    assert sources == inputs, "exactly one document per input"

    again = stack.run_dag("ingest_files", {"batch_size": BATCH_SIZE})
    assert again["state"] == "success"
    report = stack.api().xcom("ingest_files", again["dag_run_id"], "report")
    assert report["counts"]["indexed"] == 0
    assert report["listed_unchanged"] == len(inputs), report
    assert sorted(str(r["source"]) for r in exported(stack.env["ARTICLE_ETL_INDEX"])) == inputs
