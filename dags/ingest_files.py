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

Every task body is one call into ``etl.orchestration.tasks``; nothing heavy is imported at
parse time.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, get_current_context, task

from etl.orchestration import params as p
from etl.orchestration import policy, tasks
from etl.settings import Settings

INDEX = p.index_asset()


@dag(
    dag_id="ingest_files",
    schedule=Settings.from_env().schedule,
    params=p.file_params(),
    **policy.dag_arguments(),
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

    @task(**policy.batch_task_arguments())
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
