"""Ingest web pages: URLs from a list file, feeds and sitemaps.

URLs come from ``urls`` and the list file ``url_list`` (default ``ARTICLE_ETL_URL_LIST``, one
URL a line); feeds and sitemaps (defaults ``ARTICLE_ETL_FEEDS`` / ``ARTICLE_ETL_SITEMAPS``) are
expanded to their pages when fetched. URLs go in batches of ``batch_size``, each feed and
sitemap in a batch of its own; the batches are mapped task instances. Fetching (robots.txt,
per-host rate limits, conditional requests) is ``etl.fetch``'s, behind ``etl.pipeline.ingest``.

Schedule: ``ARTICLE_ETL_URL_SCHEDULE`` (cron or preset); manual only when unset. The
``article-etl://index`` asset is updated only when something was indexed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import dag, get_current_context, task

from etl import params as p
from etl import tasks

INDEX = p.index_asset()
# Fetching and indexing both touch the network: retry with exponential backoff.
NETWORK_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}


@dag(
    dag_id="ingest_urls",
    schedule=p.env_schedule("ARTICLE_ETL_URL_SCHEDULE", None),
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # overlapping runs would fetch the same pages twice
    params=p.url_params(),
    default_args={"retries": 0},
    tags=["article-etl", "ingest"],
    doc_md=__doc__,
)
def ingest_urls() -> None:
    @task
    def check_inputs(params: dict[str, Any] | None = None, dag_run: Any = None) -> tasks.Plan:
        return tasks.plan_url_run(params or {}, dag_run.conf if dag_run else None)

    @task
    def make_batches(plan: tasks.Plan) -> list[tasks.Batch]:
        return tasks.url_batches(plan)

    @task(
        map_index_template="{{ batch_label }}",
        max_active_tis_per_dagrun=tasks.max_parallel_batches(),
        **NETWORK_RETRIES,
    )
    def ingest_batch(batch: tasks.Batch, plan: tasks.Plan) -> dict[str, Any]:
        get_current_context()["batch_label"] = tasks.batch_label(batch)  # type: ignore[typeddict-unknown-key]
        return tasks.ingest_batch(batch, plan)

    @task(trigger_rule="none_failed")
    def report(summaries: Any, plan: tasks.Plan) -> dict[str, Any]:
        return tasks.summarize(summaries, plan)

    @task(outlets=[INDEX])
    def announce_index_update(totals: dict[str, Any], outlet_events: Any = None) -> None:
        tasks.announce_index_update(totals, outlet_events, INDEX)

    plan = check_inputs()
    summaries = ingest_batch.partial(plan=plan).expand(batch=make_batches(plan))
    announce_index_update(report(summaries, plan))


ingest_urls()
