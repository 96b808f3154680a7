"""The host name a Celery worker's task processes report to Airflow (``[core] hostname_callable``).

``scripts/celery_stack.sh`` runs two workers on one machine: with Airflow's default (the
machine's FQDN) their task instances would all show the same ``hostname``. Each worker is
started with ``ARTICLE_ETL_CELERY_WORKER`` set to its Celery node name (``worker1@<host>``),
and its task processes report that instead, so a test can tell which worker ran which task.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("ARTICLE_ETL_CELERY_WORKER") or socket.getfqdn()
