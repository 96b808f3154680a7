#!/usr/bin/env bash
# A real PostgreSQL server on 127.0.0.1 for development and tests, without Docker.
#
#   bash scripts/pg_node.sh start        # returns once it accepts connections, prints the URL
#   bash scripts/pg_node.sh url [DB]     # postgresql://article_etl@127.0.0.1:54329/DB
#                                        # (DB: article_etl_ledger by default)
#   bash scripts/pg_node.sh status
#   bash scripts/pg_node.sh stop         # stops it by its pid and removes its data
#
# What it is: Debian's own PostgreSQL (package `postgresql`, installed with apt-get when no
# /usr/lib/postgresql/*/bin/initdb is there), a cluster made by initdb in a new temporary
# folder, listening on 127.0.0.1 only (its Unix socket in that folder, not in
# /var/run/postgresql), with one superuser, article_etl, and `trust` authentication: anyone on
# this machine may connect, so it is a test server, never a place for real data. Durability
# settings are relaxed (fsync off): a killed *client* loses nothing, a crash of the machine may.
# Databases created on start: article_etl_ledger (the ledger) and airflow (Airflow's metadata DB
# under the CeleryExecutor, scripts/celery_stack.sh).
#
# Settings (environment): PG_PORT (54329, away from a system PostgreSQL's 5432), PG_NODE_DIR
# (where the cluster lives; default: a new temporary folder, removed by `stop`). A server killed
# with kill -9 keeps its data: `start` again reuses the recorded folder.
# PostgreSQL refuses to run as root: as root, the server runs as the system user article-etl-pg.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/servers.sh
source "$ROOT/scripts/lib/servers.sh"
CACHE="$ROOT/.cache/pg"
PORT="${PG_PORT:-54329}"
PG_SUPERUSER=article_etl
DATABASES=(article_etl_ledger airflow)
STATE="$CACHE/node-$PORT.dir" # holds the path of this port's cluster folder
PG_OS_USER=article-etl-pg

die() { echo "pg_node: $*" >&2; exit 1; }

url() { echo "postgresql://$PG_SUPERUSER@127.0.0.1:$PORT/${1:-article_etl_ledger}"; }

# The bin folder of the newest PostgreSQL Debian installed.
pg_bin() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [[ -n "$dir" && -x "$dir/initdb" ]] && echo "$dir"
}

install_pg() {
    pg_bin >/dev/null && return
    [[ "$(id -u)" == 0 ]] || die "PostgreSQL is not installed: run as root, or apt-get install postgresql"
    echo "installing Debian's postgresql with apt-get ..." >&2
    # Debian's package would start its own cluster on 5432 where services may be started; that
    # one is not used here.
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends postgresql >&2 \
        || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends postgresql >&2; } \
        || die "apt-get could not install postgresql"
    pg_bin >/dev/null || die "postgresql installed, but no /usr/lib/postgresql/*/bin/initdb"
}

node_dir() { [[ -f "$STATE" ]] && cat "$STATE"; }

# A live process (a zombie waiting to be reaped, as after kill -9, is not).

node_pid() {
    local dir pid
    dir="$(node_dir)" || return 1
    pid="$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)" || return 1
    [[ -n "$pid" ]] && alive "$pid" && echo "$pid"
}


ready() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U "$PG_SUPERUSER" -d postgres; }

psql_() { "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$PG_SUPERUSER" "$@"; }

create_databases() {
    local db
    for db in "${DATABASES[@]}"; do
        if [[ -z "$(psql_ -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]]; then
            psql_ -d postgres -c "CREATE DATABASE $db" || die "could not create the database $db"
        fi
    done
}

start() {
    if pid="$(node_pid)" && ready; then
        echo "already running (pid $pid)" >&2
        create_databases
        url
        return
    fi
    install_pg
    local bin dir
    bin="$(pg_bin)"
    mkdir -p "$CACHE"
    dir="$(node_dir || true)"
    if [[ -z "$dir" || ! -f "$dir/data/PG_VERSION" ]]; then
        dir="${PG_NODE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/article-etl-pg-$PORT.XXXXXX")}"
        mkdir -p "$dir"
        chmod 755 "$dir"
        [[ "$(id -u)" == 0 ]] && { as_system_user "$PG_OS_USER" true; chown "$PG_OS_USER:" "$dir"; }
        as_system_user "$PG_OS_USER" env -i PATH=/usr/bin:/bin LANG=C.UTF-8 "$bin/initdb" -D "$dir/data" \
            -U "$PG_SUPERUSER" --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
            >"$dir/initdb.out" 2>&1 || { tail -n 20 "$dir/initdb.out" >&2; die "initdb failed"; }
        cat >>"$dir/data/postgresql.conf" <<EOF

# article-etl test server (scripts/pg_node.sh)
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
EOF
        # Only TCP on the loopback interface and the socket in $dir; trust (test server).
        cat >"$dir/data/pg_hba.conf" <<EOF
local all all trust
host all all 127.0.0.1/32 trust
EOF
        echo "$dir" >"$STATE"
    fi
    # After a kill -9 of the server, its backends may hold the old shared memory a moment longer
    # (PostgreSQL then refuses to start): try again for up to 20 s.
    local i
    for i in $(seq 10); do
        as_system_user "$PG_OS_USER" env -i PATH=/usr/bin:/bin LANG=C.UTF-8 "$bin/pg_ctl" -D "$dir/data" \
            -l "$dir/postgres.log" -w -t 60 start >"$dir/start.out" 2>&1 && break
        ((i == 10)) && { tail -n 20 "$dir/postgres.log" >&2; die "PostgreSQL did not start (log: $dir/postgres.log)"; }
        sleep 2
    done
    for i in $(seq 60); do
        if ready; then
            create_databases
            url
            return
        fi
        sleep 0.5
    done
    die "PostgreSQL on 127.0.0.1:$PORT does not accept connections after 30 s (log: $dir/postgres.log)"
}

stop() {
    local dir pid
    dir="$(node_dir)" || { echo "no PostgreSQL recorded on port $PORT"; return; }
    if pid="$(node_pid)"; then
        as_system_user "$PG_OS_USER" env -i PATH=/usr/bin:/bin "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop \
            >/dev/null 2>&1 || kill -KILL "$pid" 2>/dev/null || true
        echo "stopped PostgreSQL on 127.0.0.1:$PORT (pid $pid)"
    fi
    [[ -z "${PG_NODE_DIR:-}" ]] && rm -rf "$dir"
    rm -f "$STATE"
}

status() {
    if pid="$(node_pid)"; then
        echo "$(url) running (pid $pid, folder $(node_dir))"
    else
        echo "PostgreSQL on 127.0.0.1:$PORT: stopped"
        return 1
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    url) url "${2:-}" ;;
    *) echo "usage: bash scripts/pg_node.sh start|stop|status|url [DB]" >&2; exit 2 ;;
esac
