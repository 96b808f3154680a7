#!/usr/bin/env bash
# A project-local Airflow (no Docker): metadata DB, config and logs in .airflow/, DAGs from ./dags.
#
#   source scripts/airflow_env.sh          # only set the environment (used by scripts/demo.sh)
#   bash scripts/airflow_env.sh start      # migrate the DB, start api-server, scheduler,
#                                          # dag-processor and triggerer in the background
#   bash scripts/airflow_env.sh status     # which of them run
#   bash scripts/airflow_env.sh stop       # stop them, one by one
#
# Components are started separately, not with `airflow standalone`, because standalone does not
# stop cleanly on SIGTERM. SQLite with the LocalExecutor: for trying things on one machine.

ARTICLE_ETL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ARTICLE_ETL_ROOT
# Set before Airflow is first imported: it reads its configuration once, at import.
export AIRFLOW_HOME="${AIRFLOW_HOME_OVERRIDE:-$ARTICLE_ETL_ROOT/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$ARTICLE_ETL_ROOT/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://localhost:${AIRFLOW_PORT:-8080}/execution/"
# Local only: every UI user is admin (SimpleAuthManager), no login to set up.
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
export ARTICLE_ETL_INBOX="${ARTICLE_ETL_INBOX:-$ARTICLE_ETL_ROOT/inbox}"
export ARTICLE_ETL_INDEX="${ARTICLE_ETL_INDEX:-$ARTICLE_ETL_ROOT/data/articles.db}"
if [[ -d "$ARTICLE_ETL_ROOT/.venv/bin" ]]; then
    export PATH="$ARTICLE_ETL_ROOT/.venv/bin:$PATH"
fi
# The checkout first on the import path: the DAGs import etl.* even before `pip install -e .`.
export PYTHONPATH="$ARTICLE_ETL_ROOT${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$AIRFLOW_HOME" "$ARTICLE_ETL_ROOT/data"

_components=(api-server scheduler dag-processor triggerer)

_pidfile() { echo "$AIRFLOW_HOME/run/$1.pid"; }

_running() {
    local pid
    pid="$(cat "$(_pidfile "$1")" 2>/dev/null)" || return 1
    kill -0 "$pid" 2>/dev/null
}

airflow_start() {
    mkdir -p "$AIRFLOW_HOME/run" "$AIRFLOW_HOME/logs" "$ARTICLE_ETL_INBOX"
    airflow db migrate >"$AIRFLOW_HOME/logs/migrate.out" 2>&1 \
        || { tail -n 40 "$AIRFLOW_HOME/logs/migrate.out"; return 1; }
    local c
    for c in "${_components[@]}"; do
        if _running "$c"; then echo "$c already running"; continue; fi
        # setsid: each component leads its own process group, so stop can end its children.
        local args=("$c")
        [[ "$c" == api-server ]] && args+=(--port "${AIRFLOW_PORT:-8080}")
        setsid airflow "${args[@]}" >"$AIRFLOW_HOME/logs/$c.out" 2>&1 < /dev/null &
        echo $! >"$(_pidfile "$c")"
        echo "started $c (pid $!, log .airflow/logs/$c.out)"
    done
    echo "Airflow UI: http://localhost:${AIRFLOW_PORT:-8080} (it takes ~20 s to come up)"
}

airflow_stop() {
    local c pid i
    for c in "${_components[@]}"; do
        if ! _running "$c"; then rm -f "$(_pidfile "$c")"; continue; fi
        pid="$(cat "$(_pidfile "$c")")"
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
        for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "$c did not stop in 15 s: killing it"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
        fi
        rm -f "$(_pidfile "$c")"
        echo "stopped $c"
    done
}

airflow_status() {
    local c
    for c in "${_components[@]}"; do
        if _running "$c"; then echo "$c: running (pid $(cat "$(_pidfile "$c")"))"; else echo "$c: stopped"; fi
    done
}

# Executed rather than sourced: run the sub-command.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    case "${1:-}" in
        start) airflow_start ;;
        stop) airflow_stop ;;
        status) airflow_status ;;
        *) echo "usage: bash scripts/airflow_env.sh start|stop|status (or source it)" >&2; exit 2 ;;
    esac
fi
