"""Rebuild the Elasticsearch index (manual).

Wraps ``etl.backends.elasticsearch.admin.reindex``: a new index from the current mapping,
documents copied over, the alias switched. Elasticsearch only: with the embedded index the
task fails with a message that says so. Run it after a mapping change
(``mappings/fields.json``).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from etl.orchestration import params as p
from etl.orchestration import policy, tasks


@dag(
    dag_id="reindex_articles",
    schedule=None,
    params=p.reindex_params(),
    **policy.dag_arguments(),
    tags=["article-etl", "elasticsearch"],
    doc_md=__doc__,
)
def reindex_articles() -> None:
    @task(outlets=[p.index_asset()], **policy.retrying_task_arguments())
    def reindex(params: dict[str, Any] | None = None) -> dict[str, Any]:
        return tasks.reindex(params or {})

    reindex()


reindex_articles()
