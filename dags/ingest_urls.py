"""Ingest web pages: URLs from a list file, feeds and sitemaps.

URLs come from ``urls`` and the list file ``url_list`` (default ``ARTICLE_ETL_URL_LIST``, one
URL a line); feeds and sitemaps (defaults ``ARTICLE_ETL_FEEDS`` / ``ARTICLE_ETL_SITEMAPS``) are
expanded to their pages when fetched. URLs go in batches of ``batch_size``, each feed and
sitemap in a batch of its own; the batches are mapped task instances. Fetching (robots.txt,
per-host rate limits, conditional requests) is ``etl.web``'s, behind ``etl.pipeline.ingest``.

Schedule: ``ARTICLE_ETL_URL_SCHEDULE`` (cron or preset); manual only when unset. The
``article-etl://index`` asset is updated only when something was indexed.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, get_current_context, task

from etl.orchestration import params as p
from etl.orchestration import policy, tasks
from etl.settings import Settings

INDEX = p.index_asset()


@dag(
    dag_id="ingest_urls",
    schedule=Settings.from_env().url_schedule,
    params=p.url_params(),
    **policy.dag_arguments(),
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

    @task(**policy.batch_task_arguments())
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
