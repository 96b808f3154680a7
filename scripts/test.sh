#!/usr/bin/env bash
# `make test` after lint: the whole suite against the real things it tests.
#   - a real single-node Elasticsearch (scripts/es_node.sh; fetched and unpacked on first use):
#     ES_URL points the live tests at it, and ARTICLE_ETL_REQUIRE_ES=1 makes a missing node a
#     failure instead of a skip;
#   - a real PostgreSQL (scripts/pg_node.sh; Debian's package, installed with apt-get when
#     missing): ARTICLE_ETL_TEST_PG_URL points the ledger contract tests at it (each test makes
#     a schema of its own); with ARTICLE_ETL_REQUIRE_ES=1 a missing server fails them too;
#   - a real Redis (scripts/redis_node.sh; Debian's redis-server, installed with apt-get when
#     missing): ARTICLE_ETL_TEST_REDIS_URL is the broker of the Celery test
#     (tests/orchestration/test_celery_workers.py: two workers, ledger and Airflow's metadata DB in new
#     databases on the PostgreSQL above); with ARTICLE_ETL_REQUIRE_ES=1 a missing server fails it;
#   - Debian's chromium for the browser tests (installed with apt-get when missing); they start
#     the local Airflow (make airflow) themselves when it is not running.
# The node and the servers are stopped at the end, also when tests fail, unless they were
# already running before.
# Extra arguments go to pytest: bash scripts/test.sh -k live -x
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export ES_PORT="${ES_PORT:-9200}"

bash scripts/ensure_chromium.sh

started_es=0
if ! bash scripts/es_node.sh status >/dev/null 2>&1; then
    started_es=1
fi
started_pg=0
if ! bash scripts/pg_node.sh status >/dev/null 2>&1; then
    started_pg=1
fi
started_redis=0
if ! bash scripts/redis_node.sh status >/dev/null 2>&1; then
    started_redis=1
fi
stop_nodes() {
    if [[ $started_es == 1 ]]; then bash scripts/es_node.sh stop >/dev/null || true; fi
    if [[ $started_pg == 1 ]]; then bash scripts/pg_node.sh stop >/dev/null || true; fi
    if [[ $started_redis == 1 ]]; then bash scripts/redis_node.sh stop >/dev/null || true; fi
}
trap stop_nodes EXIT
ES_URL="$(bash scripts/es_node.sh start | tail -n 1)"
export ES_URL ARTICLE_ETL_REQUIRE_ES=1
echo "Elasticsearch for the live tests: $ES_URL"
ARTICLE_ETL_TEST_PG_URL="$(bash scripts/pg_node.sh start | tail -n 1)"
export ARTICLE_ETL_TEST_PG_URL
echo "PostgreSQL for the ledger tests: $ARTICLE_ETL_TEST_PG_URL"
ARTICLE_ETL_TEST_REDIS_URL="$(bash scripts/redis_node.sh start | tail -n 1)"
export ARTICLE_ETL_TEST_REDIS_URL
echo "Redis for the Celery test: $ARTICLE_ETL_TEST_REDIS_URL"

.venv/bin/pytest "$@"
