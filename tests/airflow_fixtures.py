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

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
BIN = Path(sys.executable).parent
RESULT_MARK = "@@RESULT@@"

# Runs inside the subprocess: parse the DAG folder, run one DAG with dag.test() once per conf
# in argv[2] (a JSON list), print what the tests assert on. Task logs go to stderr.
RUN_DAG_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dag_id, confs = sys.argv[1], json.loads(sys.argv[2])
    bag = DagBag()
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags[dag_id]
    runs = []
    for conf in confs:
        dr = dag.test(run_conf=conf)
        with create_session() as session:
            tis = dr.get_task_instances(session=session)
            states = {}
            for ti in tis:
                name = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
                states[name] = str(ti.state.value if hasattr(ti.state, "value") else ti.state)
            xcoms = {}
            for row in session.scalars(XComModel.get_many(run_id=dr.run_id, dag_ids=dag_id,
                                                          key="return_value")):
                name = row.task_id if row.map_index < 0 else f"{row.task_id}[{row.map_index}]"
                xcoms[name] = XComModel.deserialize_value(row)
        runs.append({"run_id": dr.run_id, "state": str(dr.state), "tasks": states,
                     "xcoms": xcoms})
    print("@@RESULT@@" + json.dumps(runs, default=str))
    """
)


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of an Airflow subprocess: isolated home and DB, this project's DAGs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ARTICLE_ETL_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
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


def run_dag(dag_id: str, confs: list[dict[str, Any]], env: dict[str, str]) -> dict[str, Any]:
    """Run a DAG once per conf with ``dag.test()``; the runs' states and XComs, and the logs."""
    done = run_python(RUN_DAG_SCRIPT, env, dag_id, json.dumps(confs))
    return {"runs": result_of(done), "log": done.stdout + done.stderr}
