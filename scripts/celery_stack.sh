#!/usr/bin/env bash
# A local Airflow 3 with the CeleryExecutor (no Docker): the project's DAGs run by two Celery
# workers on one machine, for the tests of several workers on one inbox (issue 16).
#
#   bash scripts/celery_stack.sh start     # `make celery`: PostgreSQL and Redis (started when not
#                                          # running), migrate the metadata DB, start api-server,
#                                          # scheduler, dag-processor and the workers; returns once
#                                          # the UI answers, every worker is ready and the DAGs
#                                          # are parsed; prints the URL, user and password
#   bash scripts/celery_stack.sh status    # which components run, with their pids
#   bash scripts/celery_stack.sh stop      # `make celery-stop`: stop them by pid, then the
#                                          # PostgreSQL and Redis this script started
#   bash scripts/celery_stack.sh env       # print the settings (AIRFLOW_HOME, URLs, pid files)
#
# What runs:
#   - metadata DB: the `airflow` database of scripts/pg_node.sh (Airflow refuses SQLite with the
#     CeleryExecutor), driver psycopg 3 for the sync and the async engine (no asyncpg);
#   - broker: scripts/redis_node.sh; result backend: the same PostgreSQL (db+postgresql+psycopg);
#   - api-server, scheduler, dag-processor as in scripts/airflow_env.sh (same DAGs folder, login,
#     inbox, index, ARTICLE_ETL_* settings: that script is sourced for them), and the api-server
#     is needed: in Airflow 3 the workers' task processes talk to its execution API;
#   - CELERY_WORKERS (2) `airflow celery worker` processes, each with concurrency 1 and its own
#     Celery node name worker<N>@<host>, each the leader of its own process group (setsid), pid
#     in $AIRFLOW_HOME/run/worker<N>.pid: `kill -9 -- -<pid>` kills a worker with its pool
#     process, not the task it runs (Airflow's supervisor gives each task process a process
#     group of its own): to kill a worker as a machine that dies would, kill its descendants
#     too (tests/celery_stack.py, CeleryStack.kill_worker). The task instances a worker
#     runs report the worker's node name as their `hostname` (scripts/celery_stack/
#     worker_hostname.py), so a test sees which worker ran what. The workers do not serve logs
#     (two on one machine would both want port 8793): the api-server reads the task logs from
#     $AIRFLOW_HOME/logs directly.
#
# Environment (all optional), besides those of scripts/airflow_env.sh:
#   AIRFLOW_HOME_OVERRIDE  the AIRFLOW_HOME (default .cache/airflow-celery/)
#   AIRFLOW_PORT           UI/API port (default 8081, beside `make airflow`'s 8080)
#   PG_PORT, REDIS_PORT    the servers' ports (54329, 63799)
#   CELERY_STACK_PG_URL    postgresql://... of an existing database for Airflow's metadata (a
#                          server this script neither starts nor stops; the tests give each
#                          stack a new database on the test server)
#   CELERY_STACK_REDIS_URL redis://host:port/db of a running Redis for the broker (not started
#                          nor stopped here either)
#   CELERY_WORKERS         how many workers (2)
#   AIRFLOW__...           any Airflow setting, e.g. AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT
#                          (how soon the task of a killed worker is failed, and retried)
# Nothing is downloaded at run time: everything comes from .venv and Debian's packages.
set -euo pipefail

_CS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export AIRFLOW_HOME_OVERRIDE="${AIRFLOW_HOME_OVERRIDE:-$_CS_ROOT/.cache/airflow-celery}"
export AIRFLOW_PORT="${AIRFLOW_PORT:-8081}"
export PG_PORT="${PG_PORT:-54329}"
export REDIS_PORT="${REDIS_PORT:-63799}"
CELERY_WORKERS="${CELERY_WORKERS:-2}"

# The project's Airflow environment (DAGs folder, login, inbox, index, PATH, PYTHONPATH) ...
# shellcheck source=scripts/airflow_env.sh
source "$_CS_ROOT/scripts/airflow_env.sh"

# ... with the CeleryExecutor on PostgreSQL and Redis: given (CELERY_STACK_*_URL), or the servers
# of scripts/pg_node.sh and scripts/redis_node.sh on PG_PORT and REDIS_PORT.
_OWN_PG=1
_OWN_REDIS=1
if [[ -n "${CELERY_STACK_PG_URL:-}" ]]; then
    _OWN_PG=0
    _PG_URL="$CELERY_STACK_PG_URL"
else
    _PG_URL="$(bash "$_CS_ROOT/scripts/pg_node.sh" url airflow)" # postgresql://user@127.0.0.1:port/airflow
fi
_PG_PSYCOPG="${_PG_URL/postgresql:/postgresql+psycopg:}"
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$_PG_PSYCOPG"
# Without it Airflow derives postgresql+asyncpg:// for the api-server's async engine.
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC="$_PG_PSYCOPG"
if [[ -n "${CELERY_STACK_REDIS_URL:-}" ]]; then
    _OWN_REDIS=0
    export AIRFLOW__CELERY__BROKER_URL="$CELERY_STACK_REDIS_URL"
else
    export AIRFLOW__CELERY__BROKER_URL="$(bash "$_CS_ROOT/scripts/redis_node.sh" url)"
fi
export AIRFLOW__CELERY__RESULT_BACKEND="db+$_PG_PSYCOPG"
export AIRFLOW__CELERY__WORKER_CONCURRENCY=1
# The tasks of one machine: each worker takes one task at a time, so fetch no more than one.
export AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER="${AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER:-1}"
# One process per task: parallelism comes from the workers (as airflow_env.sh's start does).
export ARTICLE_ETL_WORKERS="${ARTICLE_ETL_WORKERS:-1}"

_workers=()
for ((_i = 1; _i <= CELERY_WORKERS; _i++)); do _workers+=("worker$_i"); done
_components=(api-server scheduler dag-processor "${_workers[@]}")

# As airflow_env.sh's, but a zombie is not running: a worker killed with kill -9 stays one until
# init reaps it, and kill -0 still reaches it.
_running() {
    local pid s
    pid="$(cat "$(_pidfile "$1")" 2>/dev/null)" || return 1
    s="$(ps -o stat= -p "$pid" 2>/dev/null)" && [[ "$s" != Z* ]]
}

_node_name() { echo "$1@$(hostname -f 2>/dev/null || hostname)"; }

# Exit 0 once worker $1 logged that it is ready (Celery's "<node name> ready.").
_worker_ready() { grep -q "$(_node_name "$1") ready" "$AIRFLOW_HOME/logs/$1.out" 2>/dev/null; }

_servers_file="$AIRFLOW_HOME/run/servers-started-here"

# A URL without its password (user:secret@ -> user:***@).
_redacted() { sed -E 's#(://[^:/@]+):[^@/]*@#\1:***@#' <<<"$1"; }

celery_start() {
    mkdir -p "$AIRFLOW_HOME/run" "$AIRFLOW_HOME/logs"
    local t0=$SECONDS
    if ((!_OWN_PG)); then
        echo "metadata DB: $(_redacted "$_PG_URL") (given)"
    elif ! bash "$_CS_ROOT/scripts/pg_node.sh" status >/dev/null 2>&1; then
        bash "$_CS_ROOT/scripts/pg_node.sh" start >/dev/null
        echo pg >>"$_servers_file"
        echo "started PostgreSQL $(bash "$_CS_ROOT/scripts/pg_node.sh" url airflow) ($((SECONDS - t0)) s)"
    else
        bash "$_CS_ROOT/scripts/pg_node.sh" start >/dev/null 2>&1 # creates missing databases
    fi
    t0=$SECONDS
    if ((!_OWN_REDIS)); then
        echo "broker: $AIRFLOW__CELERY__BROKER_URL (given)"
    elif ! bash "$_CS_ROOT/scripts/redis_node.sh" status >/dev/null 2>&1; then
        bash "$_CS_ROOT/scripts/redis_node.sh" start >/dev/null
        echo redis >>"$_servers_file"
        echo "started Redis $AIRFLOW__CELERY__BROKER_URL ($((SECONDS - t0)) s)"
    fi
    t0=$SECONDS
    _prepare_start || return 1
    echo "ready to start: index, inbox, metadata DB ($((SECONDS - t0)) s)"
    t0=$SECONDS
    _started_at="$(date -u +%Y-%m-%dT%H:%M:%S+00:00)"
    _running dag-processor && _started_at="1970-01-01T00:00:00+00:00"
    local c
    for c in "${_components[@]}"; do
        if _running "$c"; then echo "$c already running (pid $(cat "$(_pidfile "$c")"))"; continue; fi
        local args=("$c") extra_env=()
        case "$c" in
            api-server) args+=(--host 127.0.0.1 --port "$AIRFLOW_PORT") ;;
            scheduler) args+=(--skip-serve-logs) ;;
            worker*)
                args=(celery worker --celery-hostname "$(_node_name "$c")" --concurrency 1
                    --skip-serve-logs --queues default)
                extra_env=(
                    "ARTICLE_ETL_CELERY_WORKER=$(_node_name "$c")"
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE=worker_hostname.hostname"
                    "PYTHONPATH=$PYTHONPATH:$_CS_ROOT/scripts/celery_stack"
                )
                ;;
        esac
        # setsid: each component leads its own process group (stop, and kill -9 of a worker
        # with everything it runs).
        env "${extra_env[@]}" setsid airflow "${args[@]}" >"$AIRFLOW_HOME/logs/$c.out" 2>&1 </dev/null &
        echo $! >"$(_pidfile "$c")"
        echo "started $c (pid $!, log $AIRFLOW_HOME/logs/$c.out)"
    done
    {
        echo "AIRFLOW_URL=$AIRFLOW_URL"
        echo "ARTICLE_ETL_INDEX=$ARTICLE_ETL_INDEX"
        echo "ARTICLE_ETL_INBOX=$ARTICLE_ETL_INBOX"
        echo "CELERY_WORKERS=${_workers[*]}"
    } >"$AIRFLOW_HOME/run/instance.env"

    local deadline=$((SECONDS + AIRFLOW_START_TIMEOUT)) w
    _wait_for_api_server "$deadline" || return 1
    echo " up ($((SECONDS - t0)) s)"
    printf 'waiting for the workers '
    for w in "${_workers[@]}"; do
        until _worker_ready "$w"; do
            if ! _running "$w"; then
                echo; echo "$w exited:"; tail -n 30 "$AIRFLOW_HOME/logs/$w.out"; return 1
            fi
            if ((SECONDS > deadline)); then
                echo; echo "$w was not ready in ${AIRFLOW_START_TIMEOUT} s:"
                tail -n 30 "$AIRFLOW_HOME/logs/$w.out"; return 1
            fi
            printf '.'; sleep 1
        done
        printf ' %s' "$(_node_name "$w")"
    done
    echo " ($((SECONDS - t0)) s)"
    _wait_for_dags "$deadline" || return 1
    echo " ($((SECONDS - t0)) s)"
    airflow_password
}

# Stops the components named, all at once: TERM to each process group, a second TERM after
# 10 s, KILL after 30 s.
_stop_components() {
    local c i pid
    local -A pids=()
    for c in "$@"; do
        if _running "$c"; then pids[$c]="$(cat "$(_pidfile "$c")")"; else rm -f "$(_pidfile "$c")"; fi
    done
    ((${#pids[@]})) || return 0
    for c in "${!pids[@]}"; do kill -TERM -- "-${pids[$c]}" 2>/dev/null || kill -TERM "${pids[$c]}" 2>/dev/null || true; done
    for i in $(seq 60); do
        local left=0
        for c in "${!pids[@]}"; do kill -0 "${pids[$c]}" 2>/dev/null && left=1; done
        ((left)) || break
        # The scheduler waits for running tasks on the first signal, stops on the second; a
        # Celery worker finishes its task on the first (warm shutdown), stops on the second.
        if ((i == 20)); then
            for c in "${!pids[@]}"; do kill -TERM -- "-${pids[$c]}" 2>/dev/null || true; done
        fi
        sleep 0.5
    done
    for c in "${!pids[@]}"; do
        pid="${pids[$c]}"
        if kill -0 "$pid" 2>/dev/null; then
            echo "$c did not stop in 30 s: killing it"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
        # What is left of its process group (the pool or task process of a worker killed -9).
        kill -KILL -- "-$pid" 2>/dev/null || true
        rm -f "$(_pidfile "$c")"
        echo "stopped $c (pid $pid)"
    done
}

celery_stop() {
    local f
    local -a others=()
    shopt -s nullglob
    # The scheduler first (no new tasks), then the workers, the api-server last: task processes
    # talk to its execution API until they end. Then any other component with a pid file.
    _stop_components scheduler
    _stop_components "${_workers[@]}" dag-processor
    _stop_components api-server
    for f in "$AIRFLOW_HOME"/run/*.pid; do others+=("$(basename "$f" .pid)"); done
    ((${#others[@]} == 0)) || _stop_components "${others[@]}"
    rm -f "$AIRFLOW_HOME/run/instance.env"
    if [[ -f "$_servers_file" ]]; then
        if grep -qx redis "$_servers_file"; then bash "$_CS_ROOT/scripts/redis_node.sh" stop; fi
        if grep -qx pg "$_servers_file"; then bash "$_CS_ROOT/scripts/pg_node.sh" stop; fi
        rm -f "$_servers_file"
    fi
    return 0
}

celery_status() {
    local c
    for c in "${_components[@]}"; do
        if _running "$c"; then echo "$c: running (pid $(cat "$(_pidfile "$c")"))"; else echo "$c: stopped"; fi
    done
    if ((_OWN_PG)); then bash "$_CS_ROOT/scripts/pg_node.sh" status || true; fi
    if ((_OWN_REDIS)); then bash "$_CS_ROOT/scripts/redis_node.sh" status || true; fi
}

celery_env() {
    local w
    echo "AIRFLOW_HOME=$AIRFLOW_HOME"
    echo "AIRFLOW_URL=$AIRFLOW_URL"
    echo "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=$(_redacted "$AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")"
    echo "AIRFLOW__CELERY__BROKER_URL=$AIRFLOW__CELERY__BROKER_URL"
    echo "AIRFLOW__CELERY__RESULT_BACKEND=$(_redacted "$AIRFLOW__CELERY__RESULT_BACKEND")"
    echo "ARTICLE_ETL_INBOX=$ARTICLE_ETL_INBOX"
    echo "ARTICLE_ETL_INDEX=$ARTICLE_ETL_INDEX"
    for w in "${_workers[@]}"; do
        echo "WORKER $w $(_node_name "$w") $(_pidfile "$w")"
    done
}

case "${1:-}" in
    start) celery_start ;;
    stop) celery_stop ;;
    status) celery_status ;;
    password) airflow_password ;;
    env) celery_env ;;
    *) echo "usage: bash scripts/celery_stack.sh start|stop|status|password|env" >&2; exit 2 ;;
esac
