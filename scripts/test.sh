#!/usr/bin/env bash
# `make test` after lint: the whole suite against the real things it tests.
#   - a real single-node Elasticsearch (scripts/es_node.sh; fetched and unpacked on first use):
#     ES_URL points the live tests at it, and ARTICLE_ETL_REQUIRE_ES=1 makes a missing node a
#     failure instead of a skip;
#   - Debian's chromium for the browser tests (installed with apt-get when missing); they start
#     the local Airflow (make airflow) themselves when it is not running.
# The node is stopped at the end, also when tests fail, unless it was already running before.
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
stop_es() { if [[ $started_es == 1 ]]; then bash scripts/es_node.sh stop >/dev/null || true; fi; }
trap stop_es EXIT
ES_URL="$(bash scripts/es_node.sh start | tail -n 1)"
export ES_URL ARTICLE_ETL_REQUIRE_ES=1
echo "Elasticsearch for the live tests: $ES_URL"

.venv/bin/pytest "$@"
