"""Rebuild the Elasticsearch index (manual).

Wraps ``etl.es_admin.reindex``: a new index from the current mapping, documents copied over,
the alias switched. Elasticsearch only: with the embedded index the task fails with a message
that says so. Run it after a mapping change (``mappings/fields.json``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import dag, task

from etl import params as p
from etl import tasks


@dag(
    dag_id="reindex_articles",
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # two reindexes would race for the alias
    params=p.reindex_params(),
    tags=["article-etl", "elasticsearch"],
    doc_md=__doc__,
)
def reindex_articles() -> None:
    @task(
        outlets=[p.index_asset()],
        retries=3,
        retry_delay=timedelta(seconds=30),
        retry_exponential_backoff=2.0,
        max_retry_delay=timedelta(minutes=10),
    )
    def reindex(params: dict[str, Any] | None = None) -> dict[str, Any]:
        return tasks.reindex(params or {})

    reindex()


reindex_articles()
