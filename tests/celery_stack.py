"""A throwaway Airflow with the CeleryExecutor seen from the tests (``scripts/celery_stack.sh``):
PostgreSQL and Redis from Debian's packages on 127.0.0.1 (``scripts/pg_node.sh``,
``scripts/redis_node.sh``), the metadata DB in PostgreSQL, and two Celery workers (concurrency 1
each) running the project's real DAGs against one inbox and one index.

    with celery_stack(tmp_path, inbox=inbox, index=tmp_path / "index.db",
                      pg_url=pg_live.pg_url(), redis_url=redis_url()) as stack:
        run_id = stack.trigger("ingest_files", {"batch_size": 2})
        victim = stack.wait_for_task_on_a_worker("ingest_files", run_id, "ingest_batch")
        stack.kill_worker(victim)                        # kill -9 of the worker and its tasks
        run = stack.wait_until_done("ingest_files", run_id)
        stack.task_instances("ingest_files", run_id)     # state, hostname (= worker), try_number

Everything runs on free ports in a folder of the test (AIRFLOW_HOME, inbox, index). Given a
PostgreSQL server (``pg_url``: the test server of ``scripts/test.sh``, ``ARTICLE_ETL_TEST_PG_URL``)
the stack's metadata DB is a new database there, dropped at the end; given a Redis
(``redis_url``: ``ARTICLE_ETL_TEST_REDIS_URL``), the broker is one of its numbered databases.
Without them the stack starts its own servers on free ports (temporary folders, removed at the
end). Every wait polls with a bound and fails with what it last saw (``local_airflow.wait_for``).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.local_airflow import PASSWORD_FILE, USER, AirflowApi, clean_env, free_port, wait_for
from tests.paths import ROOT

SCRIPTS = ROOT / "scripts"
STACK = SCRIPTS / "celery_stack.sh"
PG = SCRIPTS / "pg_node.sh"
REDIS = SCRIPTS / "redis_node.sh"
TERMINAL = {"success", "failed"}
# Set by scripts/test.sh (read at import: tests/conftest.py clears ARTICLE_ETL_* per test).
TEST_REDIS_URL = os.environ.get("ARTICLE_ETL_TEST_REDIS_URL", "")
REQUIRED = os.environ.get("ARTICLE_ETL_REQUIRE_ES") == "1"


def redis_url() -> str:
    """The test command's Redis (``ARTICLE_ETL_TEST_REDIS_URL``): as ``tests/pg_live.py`` does
    for PostgreSQL, a missing one fails under the test command and skips by hand."""
    if TEST_REDIS_URL:
        return TEST_REDIS_URL
    if REQUIRED:
        pytest.fail(
            "ARTICLE_ETL_TEST_REDIS_URL is not set but ARTICLE_ETL_REQUIRE_ES=1: "
            "Redis did not start (scripts/redis_node.sh)"
        )
    pytest.skip(
        "ARTICLE_ETL_TEST_REDIS_URL not set: no Redis here (bash scripts/redis_node.sh start)"
    )


def with_database(url: str, database: str) -> str:
    """``url`` (``postgresql://`` or ``redis://``) naming another database."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))


@contextmanager
def fresh_database(server_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new, empty database on the PostgreSQL server of ``server_url``; dropped at
    the end (with whatever still connects to it)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@dataclass(frozen=True)
class Worker:
    """One ``airflow celery worker`` of the stack."""

    name: str  # worker1
    node_name: str  # worker1@<host>: Celery's node name, and the hostname its tasks report
    pidfile: Path  # the pid of the worker: the leader of its process group (setsid)

    @property
    def pid(self) -> int:
        return int(self.pidfile.read_text().strip())

    def alive(self) -> bool:
        try:
            return alive(self.pid)
        except (OSError, ValueError):  # no pid file (yet)
            return False


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
        """``postgresql://...:PORT/DATABASE`` on the stack's PostgreSQL server."""
        if given := self.env.get("CELERY_STACK_PG_URL"):
            return with_database(given, database)
        return _script(PG, self.env, "url", database).strip()

    @property
    def redis_url(self) -> str:
        return self.env.get("CELERY_STACK_REDIS_URL") or _script(REDIS, self.env, "url").strip()

    # --- workers ------------------------------------------------------------------------------

    def worker_by_node(self, node_name: str) -> Worker:
        for w in self.workers.values():
            if w.node_name == node_name:
                return w
        raise KeyError(f"no worker {node_name!r} in {sorted(self.workers)}")

    def kill_worker(self, worker: Worker | str, *, whole_tree: bool = True) -> list[int]:
        """``kill -9`` a worker: by default with every process it started (its pool process,
        and the task processes, which Airflow puts in process groups of their own), as when
        its machine dies; ``whole_tree=False`` kills the main worker process only (its pool
        child and task then run on as orphans). Returns the pids killed, once all are dead."""
        w = worker if isinstance(worker, Worker) else self.workers[worker]
        pid = w.pid
        if not whole_tree:
            os.kill(pid, signal.SIGKILL)
            wait_for(f"{w.name} (pid {pid}) dead", lambda: not w.alive(), 30, every=0.2)
            return [pid]
        # Stopped first, so that no process forks between the listing and the kill.
        os.killpg(pid, signal.SIGSTOP)
        tree = descendants(pid)
        for child in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGSTOP)
        tree = descendants(pid)  # anything forked before it stopped
        os.killpg(pid, signal.SIGKILL)
        for child in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        killed = [pid, *tree]
        wait_for(
            f"{w.name} (pids {killed}) dead",
            lambda: not any(alive(p) for p in killed),
            30,
            every=0.2,
        )
        return killed

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

    def log_records(
        self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1
    ) -> list[dict[str, Any]]:
        """The structured log of one try of a task instance (mapped ones by ``map_index``)."""
        q = urllib.parse.quote(run_id, safe="")
        path = f"/api/v2/dags/{dag_id}/dagRuns/{q}/taskInstances/{task_id}/logs/{try_number}"
        body = self.api().get(f"{path}?full_content=true&map_index={map_index}")
        return [r for r in body["content"] if isinstance(r, dict)]

    def failure_summary(self, dag_id: str, run_id: str) -> str:
        """Each task instance's state, worker and try, and the error lines of the failed ones
        (for assertion messages; tolerant of tasks that never ran)."""
        lines = []
        for ti in self.task_instances(dag_id, run_id):
            name = ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else "")
            lines.append(f"{name}: {ti['state']} on {ti['hostname'] or '-'} try {ti['try_number']}")
            if ti["state"] == "failed" or (ti["state"] == "up_for_retry" and ti["try_number"]):
                try:
                    records = self.log_records(
                        dag_id, run_id, ti["task_id"], int(ti["try_number"]), ti["map_index"]
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


def alive(pid: int) -> bool:
    """A live process (a zombie is dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, their children...), from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo += children.get(child, [])
    return sorted(found)


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
    metadata_db: str | None = None,
    broker: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment of a throwaway stack: AIRFLOW_HOME in ``base``, free ports for the
    api-server, PostgreSQL and Redis, nothing scheduled (runs are triggered), no settle time for
    the inbox, one process per task. ``metadata_db``, ``broker``: the URLs of an existing
    database and Redis to use instead of starting servers. ``extra`` adds or overrides
    (``ARTICLE_ETL_LEDGER``, ``AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT``, ...)."""
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
    for name in ("ES_URL", "PG_NODE_DIR", "REDIS_NODE_DIR", "CELERY_STACK_PG_URL"):
        env.pop(name, None)
    env.pop("CELERY_STACK_REDIS_URL", None)
    if metadata_db:
        env["CELERY_STACK_PG_URL"] = metadata_db
    if broker:
        env["CELERY_STACK_REDIS_URL"] = broker
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
    base: Path,
    *,
    inbox: Path,
    index: Path | str,
    workers: int = 2,
    pg_url: str | None = None,
    redis_url: str | None = None,
    **extra: str,
) -> Iterator[CeleryStack]:
    """The Celery stack for a test, stopped at the end. ``pg_url``: a PostgreSQL server on
    which the metadata DB is a new database (dropped at the end); ``redis_url``: a Redis whose
    database 1-15 (picked at random, away from ``make celery``'s 0) is the broker. Without
    them, the stack starts (and stops) servers of its own."""
    with contextlib.ExitStack() as servers:
        metadata_db = servers.enter_context(fresh_database(pg_url, "airflow")) if pg_url else None
        broker = with_database(redis_url, str(random.randint(1, 15))) if redis_url else None
        env = stack_env(
            base,
            inbox=inbox,
            index=index,
            workers=workers,
            metadata_db=metadata_db,
            broker=broker,
            **extra,
        )
        if broker:
            # The messages of a killed worker stay unacknowledged in the broker's database:
            # emptied at the end, so that no later stack picked the same number gets them.
            servers.callback(_empty_redis_database, broker)
        stack = start_stack(env)
        try:
            yield stack
        finally:
            stack.stop()


def _empty_redis_database(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
