"""Helpers for the tests that run real Airflow: a throwaway AIRFLOW_HOME and subprocesses.

Airflow reads its configuration once, when it is first imported, so every test that needs
Airflow runs it in a subprocess whose environment is set beforehand: its own AIRFLOW_HOME, a
SQLite metadata DB, ``dags/`` as the DAG folder, no example DAGs. That keeps the pytest process
free of Airflow's global state and of the user's ~/airflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.paths import ROOT

DAGS = ROOT / "dags"
BIN = Path(sys.executable).parent
RESULT_MARK = "@@RESULT@@"

# Runs inside the subprocess. argv[1] is a JSON job: {"dag_id", "runs": [conf, ...],
# "triggers": [conf, ...]}. Each run is one dag.test() (tasks run in this process); each
# trigger goes through Airflow's own trigger path (the one the UI and REST API use), which
# validates the conf against the DAG's params. Prints what the tests assert on.
RUN_DAG_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from sqlalchemy import select
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.asset import AssetEvent
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunTriggeredByType

    job = json.loads(sys.argv[1])
    dag_id = job["dag_id"]
    bag = DagBag()
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags[dag_id]

    def name(row):
        return row.task_id if row.map_index < 0 else f"{row.task_id}[{row.map_index}]"

    runs = []
    for conf in job.get("runs", []):
        dr = dag.test(run_conf=conf)
        with create_session() as session:
            states = {name(ti): str(getattr(ti.state, "value", ti.state))
                      for ti in dr.get_task_instances(session=session)}
            xcoms = {name(x): XComModel.deserialize_value(x) for x in session.scalars(
                XComModel.get_many(run_id=dr.run_id, dag_ids=dag_id, key="return_value"))}
            events = [e.uri for e in session.scalars(
                select(AssetEvent).where(AssetEvent.source_run_id == dr.run_id))]
        runs.append({"run_id": dr.run_id, "state": str(getattr(dr.state, "value", dr.state)),
                     "tasks": states, "xcoms": xcoms, "asset_events": events})
    triggers = []
    for conf in job.get("triggers", []):
        try:
            dr = trigger_dag(dag_id, conf=conf, triggered_by=DagRunTriggeredByType.TEST)
            triggers.append({"ok": True, "run_id": dr.run_id if dr else None})
        except Exception as exc:
            triggers.append({"ok": False, "error": type(exc).__name__, "message": str(exc)})
    print("@@RESULT@@" + json.dumps({"runs": runs, "triggers": triggers}, default=str))
    """
)


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of an Airflow subprocess: isolated home and DB, this project's DAGs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ARTICLE_ETL_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            # Triggered paths must lie in these: the examples and this test's own folder.
            "ARTICLE_ETL_PATH_ROOTS": os.pathsep.join([str(ROOT / "examples"), str(home)]),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # No Elasticsearch connection: the DAGs fall back to the embedded index.
            "ARTICLE_ETL_WORKERS": "1",
            "ARTICLE_ETL_INBOX_SETTLE_SECONDS": "0",
            # The checkout first, whether or not the project is pip-installed.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),
        }
    )
    env.update(extra)
    return env


def migrate(env: dict[str, str]) -> None:
    """Create the metadata DB (``airflow db migrate``, a few seconds on SQLite)."""
    done = subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{done.stdout}\n{done.stderr}")


def run_python(
    code: str, env: dict[str, str], *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def result_of(done: subprocess.CompletedProcess[str]) -> Any:
    """The JSON a subprocess printed after RESULT_MARK, or an error with its output."""
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    raise AssertionError(
        f"subprocess failed (exit {done.returncode}):\n"
        f"--- stdout ---\n{done.stdout[-6000:]}\n--- stderr ---\n{done.stderr[-6000:]}"
    )


def run_dag(
    dag_id: str,
    env: dict[str, str],
    runs: list[dict[str, Any]] = (),  # type: ignore[assignment]
    triggers: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    """Run a DAG once per conf in ``runs`` with ``dag.test()``, then trigger it once per conf in
    ``triggers``: the runs' task states, XComs and asset events, the triggers' errors, the log."""
    job = {"dag_id": dag_id, "runs": list(runs), "triggers": list(triggers)}
    done = run_python(RUN_DAG_SCRIPT, env, json.dumps(job))
    return {**result_of(done), "log": done.stdout + done.stderr}
