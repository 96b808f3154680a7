"""What every DAG shares: start date, one run at a time, and the retry policy (from settings).

Declared once here so that the DAG files only wire tasks. Nothing heavy is imported: DAG files
call these at parse time, which reads the environment (``etl.settings``) and nothing else.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from etl.settings import Settings

START_DATE = datetime(2025, 1, 1, tzinfo=UTC)
# Each retry waits twice as long as the one before: 30 s, 60 s, 120 s with the default delay.
RETRY_BACKOFF = 2.0


def dag_arguments() -> dict[str, Any]:
    """Arguments of every ``@dag``: no catch-up of missed intervals; one run at a time (two
    runs would list the same changed files, fetch the same pages, or race for the alias); and
    no retries unless a task asks for them, as bad input or configuration is not fixed by
    retrying."""
    return {
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "default_args": {"retries": 0},
    }


def retrying_task_arguments(settings: Settings | None = None) -> dict[str, Any]:
    """Arguments of the tasks that touch the index or the network: an outage of either is
    usually transient, so they retry with exponential backoff (the inputs stay pending in the
    ledger meanwhile, not failed)."""
    settings = settings or Settings.from_env()
    return {
        "retries": settings.task_retries,
        "retry_delay": timedelta(seconds=settings.task_retry_delay),
        "retry_exponential_backoff": RETRY_BACKOFF,
        "max_retry_delay": timedelta(seconds=settings.task_max_retry_delay),
    }


def batch_task_arguments() -> dict[str, Any]:
    """Arguments of a mapped ingest task: named after its batch in the UI, at most
    ``ARTICLE_ETL_MAX_PARALLEL_BATCHES`` at once (the load on the index and, for URLs, on the
    sites fetched), retrying like every task that touches the index."""
    settings = Settings.from_env()
    return {
        "map_index_template": "{{ batch_label }}",
        "max_active_tis_per_dagrun": max(1, settings.max_parallel_batches),
        **retrying_task_arguments(settings),
    }
