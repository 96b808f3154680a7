#!/usr/bin/env bash
# The demo (`make demo`): run the real ingest_files DAG with Airflow over the example articles
# into the embedded index data/articles.db, then search it with facets.
#
# Airflow runs in-process (`airflow dags test`) against a project-local SQLite metadata DB in
# .airflow/: no scheduler, no Docker. The full task log goes to .airflow/demo-dag-test.log;
# the terminal shows the pipeline's own lines (batches, outcome tables).
#
#   DEMO_REPROCESS=1 bash scripts/demo.sh   # process the files again even if unchanged
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/airflow_env.sh
source scripts/airflow_env.sh
# The demo always uses the embedded index, whatever Elasticsearch connection the shell defines.
unset AIRFLOW_CONN_ELASTICSEARCH_DEFAULT
export ARTICLE_ETL_INDEX="$ROOT/data/articles.db"
PY="$ROOT/.venv/bin/python"
[[ -x "$PY" ]] || PY="$(command -v python3)"
if [[ -x "$ROOT/.venv/bin/article-etl" ]]; then
    ETL=("$ROOT/.venv/bin/article-etl")
else
    ETL=("$PY" -m etl)  # not pip-installed: run the checkout
fi

paths=("$ROOT/examples/articles")
# The seed article lives beside the checkout on some machines only.
if [[ -d "$ROOT/../shared/seeds" ]]; then
    paths+=("$(cd "$ROOT/../shared/seeds" && pwd)")
fi
# A triggered run reads only below the inbox and ARTICLE_ETL_PATH_ROOTS: allow what we pass.
ARTICLE_ETL_PATH_ROOTS="$(IFS=:; echo "${paths[*]}")"
export ARTICLE_ETL_PATH_ROOTS
reprocess=false
[[ "${DEMO_REPROCESS:-0}" == 1 ]] && reprocess=true
conf="$("$PY" -c 'import json, sys
print(json.dumps({"paths": sys.argv[3:], "index": sys.argv[1], "reprocess": sys.argv[2] == "true",
                  "batch_size": 5}))' "$ARTICLE_ETL_INDEX" "$reprocess" "${paths[@]}")"

if [[ -t 1 ]]; then
    section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    section() { printf '\n== %s\n' "$*"; }
fi

section "Airflow metadata DB: $AIRFLOW_HOME (airflow db migrate)"
if ! airflow db migrate >"$AIRFLOW_HOME/migrate.log" 2>&1; then
    tail -n 40 "$AIRFLOW_HOME/migrate.log"
    exit 1
fi

section "airflow dags test ingest_files --conf '$conf'"
log="$AIRFLOW_HOME/demo-dag-test.log"
# Keep whole log records (a record may span lines: the outcome tables) that come from the
# pipeline (logger etl.*), Airflow's task start/end lines, and anything at error level;
# drop the timestamp/level prefix and the logger/location suffix.
set +e
airflow dags test ingest_files --conf "$conf" 2>&1 | tee "$log" | awk '
    # (plain POSIX awk: no {n} intervals, which mawk lacks)
    function flush() {
        if (rec != "" && (rec ~ /\[etl\./ || rec ~ /\[DAG TEST\] end task/ || rec ~ /\[(error|critical) *\]/ || rec ~ /Traceback/)) {
            sub(/^[0-9-]+T[0-9:.]+Z \[[a-z]+ *\] +/, "", rec)
            gsub(/ +\[[A-Za-z_.]+\] loc=[^ \n]+/, "", rec)
            sub(/ +\[airflow\.sdk\.definitions\.dag\]/, "", rec)
            print rec
        }
        rec = ""
    }
    /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9]/ { flush(); rec = $0; next }
    { rec = (rec == "" ? $0 : rec "\n" $0) }
    END { flush() }
'
status=${PIPESTATUS[0]}
set -e
if [[ $status -ne 0 ]] || grep -q "state=failed\|DagRunState.FAILED" "$log"; then
    echo "the DAG run failed: see $log" >&2
    exit 1
fi
echo "(full Airflow log: ${log#"$ROOT"/})"

section "article-etl search Donbas --facet person --facet location --facet site --facet language"
"${ETL[@]}" search Donbas --facet person --facet location --facet site --facet language

section "article-etl search solar --facet site --facet language --facet author"
"${ETL[@]}" search solar --facet site --facet language --facet author

section "article-etl search --facet person --facet organization --facet location --histogram year --size 3"
"${ETL[@]}" search --facet person --facet organization --facet location --histogram year --size 3

section "done"
echo "Index: ${ARTICLE_ETL_INDEX#"$ROOT"/}. Run again: nothing new is found (the ledger knows the"
echo "files); DEMO_REPROCESS=1 processes them again. The Airflow UI: make airflow"
