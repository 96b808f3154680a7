"""The scheduler really runs ``ingest_files`` on its schedule.

A throwaway Airflow of ``scripts/airflow_env.sh`` (the script behind ``make airflow``), with its
own AIRFLOW_HOME, port, inbox and index in tmp_path and ``ARTICLE_ETL_SCHEDULE`` every minute.
Nobody triggers anything: the DAG is unpaused when first parsed, the scheduler starts a run for
the latest minute, then one a minute. The first run indexes the inbox; the second finds every
file unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.local_airflow import (
    SCRIPT,
    LocalAirflow,
    clean_env,
    copy_articles,
    free_port,
    start,
    wait_for,
)
from tests.paths import EXAMPLES

# Three small articles: enough to see them indexed, then unchanged, without minutes of NER.
ARTICLES = (
    "azores-seafloor-cable-sensing.txt",
    "kenya-drought-early-warning-alerts.txt",
    "riverside-courier-bristol-library-reopens.html",
)
EVERY_MINUTE = "*/1 * * * *"


@pytest.fixture(scope="module")
def scheduled_airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAirflow]:
    base = tmp_path_factory.mktemp("airflow-schedule")
    home, inbox = base / "home", base / "inbox"
    copy_articles(EXAMPLES, inbox, ARTICLES)
    port = free_port()
    env = clean_env(
        AIRFLOW_HOME_OVERRIDE=str(home),
        AIRFLOW_PORT=str(port),
        ARTICLE_ETL_INBOX=str(inbox),
        ARTICLE_ETL_INDEX=str(base / "index.db"),
        ARTICLE_ETL_SCHEDULE=EVERY_MINUTE,
        ARTICLE_ETL_URL_SCHEDULE="manual",
        ARTICLE_ETL_WORKERS="1",
        ARTICLE_ETL_INBOX_SETTLE_SECONDS="0",
    )
    env.pop("ES_URL", None)
    airflow = start(["bash", str(SCRIPT), "start"], env, home, f"http://127.0.0.1:{port}")
    try:
        yield airflow
    finally:
        airflow.stop()


@pytest.mark.airflow
@pytest.mark.slow
def test_scheduler_runs_ingest_files_by_itself(scheduled_airflow: LocalAirflow) -> None:
    api = scheduled_airflow.api()
    dag = api.get("/api/v2/dags/ingest_files")
    assert dag["is_paused"] is False, "the local setup starts the DAGs unpaused"
    assert dag["timetable_summary"] == EVERY_MINUTE

    def two_scheduled_runs_done() -> list[dict[str, Any]] | None:
        runs = api.runs("ingest_files", run_type="scheduled")
        done = [r for r in runs if r["state"] in {"success", "failed"}]
        return done[:2] if len(done) >= 2 else None

    # One run at once (max_active_runs=1), a run a minute: two runs take 1-3 minutes.
    first, second = wait_for("two scheduled runs of ingest_files", two_scheduled_runs_done, 480)
    assert api.runs("ingest_files", run_type="manual") == [], "nothing was triggered by hand"
    for run in (first, second):
        assert run["state"] == "success", api.failure_report("ingest_files", run["dag_run_id"])
        assert run["triggered_by"] == "timetable"
    assert second["start_date"] >= first["end_date"]

    report1 = api.xcom("ingest_files", first["dag_run_id"], "report")
    report2 = api.xcom("ingest_files", second["dag_run_id"], "report")
    n = len(ARTICLES)
    assert report1["counts"] == {"indexed": n, "unchanged": 0, "duplicate": 0, "rejected": 0}
    # The second run reads nothing: every file is unchanged, and it says so.
    assert report2["counts"] == {"indexed": 0, "unchanged": n, "duplicate": 0, "rejected": 0}
    assert report2["batches"] == 0
    states = api.task_states("ingest_files", second["dag_run_id"])
    assert states["ingest_batch"] == "skipped"  # nothing to read: no batch ran
    assert states["announce_index_update"] == "skipped"  # nothing indexed: no asset event
    log = "\n".join(
        str(r.get("event")) for r in api.log_records("ingest_files", second["dag_run_id"], "report")
    )
    assert f"{n} file(s) unchanged since last processed" in log
