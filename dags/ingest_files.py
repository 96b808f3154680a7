"""Ingest article files: new and changed files in the inbox, every 15 minutes.

Lists the files under the inbox (``ARTICLE_ETL_INBOX``) that are new or whose content changed
since they were last processed (the ledger compares hashes), splits them into batches, and runs
extract -> enrich -> index on each batch as a mapped task instance. The final task sums the
batches' outcome counts and logs a table; the ``article-etl://index`` asset is updated only
when something was indexed.

Trigger it by hand with other files or folders (``paths``), another index (``index``), or
``reprocess`` / ``dry_run``. Schedule: ``ARTICLE_ETL_SCHEDULE`` (cron or preset; ``manual``
for none). Where it indexes: the Airflow connection ``elasticsearch_default`` when defined,
else the embedded index at ``ARTICLE_ETL_INDEX``.

Every task body is one call into ``etl.tasks``; nothing heavy is imported at parse time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import dag, get_current_context, task

from etl import params as p
from etl import tasks

INDEX = p.index_asset()
# Tasks that touch the index (or the network) retry with exponential backoff: 30 s, 60 s,
# 120 s. A transient outage of the index leaves the batch's inputs pending, not failed.
INDEX_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}


@dag(
    dag_id="ingest_files",
    schedule=p.env_schedule("ARTICLE_ETL_SCHEDULE", p.DEFAULT_SCHEDULE),
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # two runs would both see the same changed files
    params=p.file_params(),
    default_args={"retries": 0},  # bad input is not fixed by retrying
    tags=["article-etl", "ingest"],
    doc_md=__doc__,
)
def ingest_files() -> None:
    @task
    def check_inputs(params: dict[str, Any] | None = None, dag_run: Any = None) -> tasks.Plan:
        return tasks.plan_file_run(params or {}, dag_run.conf if dag_run else None)

    @task
    def list_new_files(plan: tasks.Plan) -> list[tasks.Batch]:
        batches, unchanged = tasks.file_batches(plan)
        # For the report: files left out here because they are unchanged.
        get_current_context()["ti"].xcom_push(key="unchanged", value=unchanged)
        return batches

    @task(
        map_index_template="{{ batch_label }}",
        max_active_tis_per_dagrun=tasks.max_parallel_batches(),
        **INDEX_RETRIES,
    )
    def ingest_batch(batch: tasks.Batch, plan: tasks.Plan) -> dict[str, Any]:
        get_current_context()["batch_label"] = tasks.batch_label(batch)  # type: ignore[typeddict-unknown-key]
        return tasks.ingest_batch(batch, plan)

    # none_failed: runs when the mapped task expanded to nothing (skipped) as well.
    @task(trigger_rule="none_failed")
    def report(summaries: Any, plan: tasks.Plan, listed_unchanged: int | None) -> dict[str, Any]:
        return tasks.summarize(summaries, plan, listed_unchanged)

    @task(outlets=[INDEX])
    def announce_index_update(totals: dict[str, Any], outlet_events: Any = None) -> None:
        tasks.announce_index_update(totals, outlet_events, INDEX)

    plan = check_inputs()
    listing = list_new_files(plan)
    summaries = ingest_batch.partial(plan=plan).expand(batch=listing)
    announce_index_update(report(summaries, plan, listing["unchanged"]))


ingest_files()
