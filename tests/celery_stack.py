"""A throwaway Airflow with the CeleryExecutor seen from the tests (``scripts/celery_stack.sh``):
PostgreSQL and Redis from Debian's packages on 127.0.0.1 (``scripts/pg_node.sh``,
``scripts/redis_node.sh``), the metadata DB in PostgreSQL, and two Celery workers (concurrency 1
each) running the project's real DAGs against one inbox and one index.

    with celery_stack(tmp_path, inbox=inbox, index=tmp_path / "index.db") as stack:
        run_id = stack.trigger("ingest_files", {"batch_size": 2})
        victim = stack.wait_for_task_on_a_worker("ingest_files", run_id, "ingest_batch")
        stack.kill_worker(victim)                        # kill -9 of the worker's process group
        run = stack.wait_until_done("ingest_files", run_id)
        stack.task_instances("ingest_files", run_id)     # state, hostname (= worker), try_number

Everything runs on free ports in a folder of the test (AIRFLOW_HOME, inbox, index); the
servers' data live in temporary folders removed at the end. Every wait polls with a bound and
fails with what it last saw (``local_airflow.wait_for``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_airflow import PASSWORD_FILE, USER, AirflowApi, clean_env, free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
STACK = SCRIPTS / "celery_stack.sh"
PG = SCRIPTS / "pg_node.sh"
REDIS = SCRIPTS / "redis_node.sh"
TERMINAL = {"success", "failed"}


@dataclass(frozen=True)
class Worker:
    """One ``airflow celery worker`` of the stack."""

    name: str  # worker1
    node_name: str  # worker1@<host>: Celery's node name, and the hostname its tasks report
    pidfile: Path  # the pid of the process group leader (setsid)

    @property
    def pid(self) -> int:
        return int(self.pidfile.read_text().strip())

    def alive(self) -> bool:
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except (OSError, ValueError):
            return False
        return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead


@dataclass
class CeleryStack:
    """A running ``scripts/celery_stack.sh``: where it is, its workers, its REST API."""

    home: Path
    url: str
    env: dict[str, str]
    workers: dict[str, Worker]
    startup_seconds: float
    _api: AirflowApi | None = None

    # --- servers ------------------------------------------------------------------------------

    def pg_url(self, database: str = "article_etl_ledger") -> str:
        """``postgresql://article_etl@127.0.0.1:PORT/DATABASE`` (trust auth, no password)."""
        return _script(PG, self.env, "url", database).strip()

    @property
    def redis_url(self) -> str:
        return _script(REDIS, self.env, "url").strip()

    # --- workers ------------------------------------------------------------------------------

    def worker_by_node(self, node_name: str) -> Worker:
        for w in self.workers.values():
            if w.node_name == node_name:
                return w
        raise KeyError(f"no worker {node_name!r} in {sorted(self.workers)}")

    def kill_worker(self, worker: Worker | str, *, whole_group: bool = True) -> int:
        """``kill -9`` a worker: by default its whole process group (the worker, its pool
        process and the task it runs, as when its machine dies); ``whole_group=False`` kills the
        main worker process only (its pool child and task then run on as orphans). Returns the
        pid, once the worker is dead."""
        w = worker if isinstance(worker, Worker) else self.workers[worker]
        pid = w.pid
        if whole_group:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
        wait_for(f"{w.name} (pid {pid}) dead", lambda: not w.alive(), 30, every=0.2)
        return pid

    # --- Airflow ------------------------------------------------------------------------------

    def api(self) -> AirflowApi:
        if self._api is None:
            password = json.loads((self.home / PASSWORD_FILE).read_text())[USER]
            self._api = AirflowApi(self.url, str(password))
        return self._api

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """Start a run of ``dag_id`` through the REST API (as the UI does); its run id."""
        status, body = self.api().post(
            f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": dict(conf or {})}
        )
        assert status in (200, 201), f"trigger {dag_id}: {status} {body}"
        return str(body["dag_run_id"])

    def wait_until_done(self, dag_id: str, run_id: str, timeout: float = 900) -> dict[str, Any]:
        """The run once it is ``success`` or ``failed``."""
        return self.api().wait_until_done(dag_id, run_id, timeout)

    def run_dag(
        self, dag_id: str, conf: Mapping[str, Any] | None = None, timeout: float = 900
    ) -> dict[str, Any]:
        return self.wait_until_done(dag_id, self.trigger(dag_id, conf), timeout)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run (mapped ones one by one): ``task_id``, ``map_index``,
        ``state``, ``hostname`` (the worker's node name), ``pid``, ``try_number``..."""
        q = urllib.parse.quote(run_id, safe="")
        body = self.api().get(f"/api/v2/dags/{dag_id}/dagRuns/{q}/taskInstances?limit=1000")
        return list(body["task_instances"])

    def running_on_workers(
        self, dag_id: str, run_id: str, task_id: str | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """The running task instances of the run (of ``task_id`` only, when given), by the
        node name of the worker that runs them."""
        out: dict[str, list[dict[str, Any]]] = {}
        for ti in self.task_instances(dag_id, run_id):
            if ti["state"] == "running" and (task_id is None or ti["task_id"] == task_id):
                out.setdefault(str(ti["hostname"]), []).append(ti)
        return out

    def wait_for_task_on_a_worker(
        self, dag_id: str, run_id: str, task_id: str, timeout: float = 600
    ) -> Worker:
        """The worker of the first instance of ``task_id`` seen running."""

        def running() -> Worker | None:
            on = self.running_on_workers(dag_id, run_id, task_id)
            for node in sorted(on):
                if node in {w.node_name for w in self.workers.values()}:
                    return self.worker_by_node(node)
            state = self.api().run(dag_id, run_id)["state"]
            assert state not in TERMINAL, f"{dag_id} {run_id} ended ({state}) first"
            return None

        return wait_for(f"{task_id} running on a worker", running, timeout, every=0.5)

    def failure_summary(self, dag_id: str, run_id: str) -> str:
        """Each task instance's state, worker and try, and the error lines of the failed ones
        (for assertion messages; tolerant of tasks that never ran)."""
        lines = []
        for ti in self.task_instances(dag_id, run_id):
            name = ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else "")
            lines.append(f"{name}: {ti['state']} on {ti['hostname'] or '-'} try {ti['try_number']}")
            if ti["state"] == "failed" or (ti["state"] == "up_for_retry" and ti["try_number"]):
                try:
                    records = self.api().log_records(
                        dag_id, run_id, ti["task_id"], int(ti["try_number"])
                    )
                except AssertionError as exc:  # no log (yet)
                    records = [{"level": "error", "event": f"(no log: {exc})"}]
                lines += [
                    f"    {r.get('event')}: {r.get('error_detail', [{}])[0].get('exc_value', '')}"
                    for r in records
                    if r.get("level") in {"error", "critical"}
                ]
        return "\n".join(lines)

    def stop(self) -> None:
        _script(STACK, self.env, "stop", timeout=300)


def _script(script: Path, env: Mapping[str, str], *args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        ["bash", str(script), *args],
        env=dict(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"{script.name} {' '.join(args)} failed ({done.returncode}):\n"
            f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    return done.stdout


def stack_env(
    base: Path,
    *,
    inbox: Path,
    index: Path | str,
    workers: int = 2,
    **extra: str,
) -> dict[str, str]:
    """The environment of a throwaway stack: AIRFLOW_HOME in ``base``, free ports for the
    api-server, PostgreSQL and Redis, nothing scheduled (runs are triggered), no settle time for
    the inbox, one process per task. ``extra`` adds or overrides (``ARTICLE_ETL_LEDGER``,
    ``AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT``, ...)."""
    env = clean_env(
        AIRFLOW_HOME_OVERRIDE=str(base / "airflow-home"),
        AIRFLOW_PORT=str(free_port()),
        PG_PORT=str(free_port()),
        REDIS_PORT=str(free_port()),
        CELERY_WORKERS=str(workers),
        ARTICLE_ETL_INBOX=str(inbox),
        ARTICLE_ETL_INDEX=str(index),
        ARTICLE_ETL_SCHEDULE="manual",
        ARTICLE_ETL_URL_SCHEDULE="manual",
        ARTICLE_ETL_WORKERS="1",
        ARTICLE_ETL_INBOX_SETTLE_SECONDS="0",
    )
    for name in ("ES_URL", "PG_NODE_DIR", "REDIS_NODE_DIR"):
        env.pop(name, None)
    env.update(extra)
    return env


def start_stack(env: dict[str, str]) -> CeleryStack:
    """``celery_stack.sh start`` with ``env`` (see ``stack_env``); stops what it started when
    the start fails."""
    t0 = time.monotonic()
    done = subprocess.run(
        ["bash", str(STACK), "start"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        subprocess.run(["bash", str(STACK), "stop"], env=env, cwd=ROOT, timeout=300)
        raise AssertionError(
            f"celery_stack.sh start failed ({done.returncode}):\n{done.stdout[-4000:]}\n"
            f"{done.stderr[-4000:]}"
        )
    elapsed = time.monotonic() - t0
    workers: dict[str, Worker] = {}
    home = Path(env["AIRFLOW_HOME_OVERRIDE"])
    for line in _script(STACK, env, "env").splitlines():
        if line.startswith("WORKER "):
            _, name, node, pidfile = line.split()
            workers[name] = Worker(name, node, Path(pidfile))
    url = f"http://127.0.0.1:{env['AIRFLOW_PORT']}"
    return CeleryStack(home, url, env, workers, elapsed)


@contextmanager
def celery_stack(
    base: Path, *, inbox: Path, index: Path | str, workers: int = 2, **extra: str
) -> Iterator[CeleryStack]:
    """Start PostgreSQL, Redis and the Celery stack for a test; stop them all at the end."""
    stack = start_stack(stack_env(base, inbox=inbox, index=index, workers=workers, **extra))
    try:
        yield stack
    finally:
        stack.stop()
