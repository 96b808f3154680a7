#!/usr/bin/env bash
# A real Redis server on 127.0.0.1 for development and tests (the Celery broker), without Docker.
#
#   bash scripts/redis_node.sh start     # returns once it answers PING, prints the URL
#   bash scripts/redis_node.sh url       # redis://127.0.0.1:63799/0
#   bash scripts/redis_node.sh status
#   bash scripts/redis_node.sh stop      # stops it by its pid and removes its folder
#
# What it is: Debian's redis-server (installed with apt-get when missing), one process listening
# on 127.0.0.1 only, protected mode on, no persistence (no RDB snapshots, no AOF): its working
# folder is a new temporary folder, removed by `stop`. Stopping it loses every queued message.
#
# Settings (environment): REDIS_PORT (63799, away from a system Redis's 6379), REDIS_NODE_DIR
# (its folder; default: a new temporary folder). As root, it runs as the system user
# article-etl-redis.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/servers.sh
source "$ROOT/scripts/lib/servers.sh"
CACHE="$ROOT/.cache/redis"
PORT="${REDIS_PORT:-63799}"
STATE="$CACHE/node-$PORT.dir"
REDIS_OS_USER=article-etl-redis

die() { echo "redis_node: $*" >&2; exit 1; }

url() { echo "redis://127.0.0.1:$PORT/0"; }

install_redis() {
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return
    [[ "$(id -u)" == 0 ]] || die "Redis is not installed: run as root, or apt-get install redis-server"
    echo "installing Debian's redis-server with apt-get ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends redis-server redis-tools >&2 \
        || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends redis-server redis-tools >&2; } \
        || die "apt-get could not install redis-server"
}

node_dir() { [[ -f "$STATE" ]] && cat "$STATE"; }

# A live process (a zombie waiting to be reaped, as after kill -9, is not).

node_pid() {
    local dir pid
    dir="$(node_dir)" || return 1
    pid="$(cat "$dir/redis.pid" 2>/dev/null)" || return 1
    [[ -n "$pid" ]] && alive "$pid" && echo "$pid"
}


ready() { [[ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" == PONG ]]; }

start() {
    if pid="$(node_pid)" && ready; then echo "already running (pid $pid)" >&2; url; return; fi
    install_redis
    local dir
    mkdir -p "$CACHE"
    dir="$(node_dir || true)"
    if [[ -z "$dir" || ! -d "$dir" ]]; then
        dir="${REDIS_NODE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/article-etl-redis-$PORT.XXXXXX")}"
        mkdir -p "$dir"
        chmod 755 "$dir"
        echo "$dir" >"$STATE"
    fi
    [[ "$(id -u)" == 0 ]] && { as_system_user "$REDIS_OS_USER" true; chown "$REDIS_OS_USER:" "$dir"; }
    rm -f "$dir/redis.pid"
    as_system_user "$REDIS_OS_USER" env -i PATH=/usr/bin:/bin redis-server - >"$dir/start.out" 2>&1 <<EOF \
        || { tail -n 20 "$dir/start.out" "$dir/redis.log" >&2 2>/dev/null; die "redis-server did not start"; }
bind 127.0.0.1
port $PORT
protected-mode yes
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir
save ""
appendonly no
EOF
    local i
    for i in $(seq 60); do
        if ready; then url; return; fi
        sleep 0.25
    done
    tail -n 20 "$dir/redis.log" >&2 2>/dev/null || true
    die "Redis on 127.0.0.1:$PORT does not answer PING after 15 s (log: $dir/redis.log)"
}

stop() {
    local dir pid
    dir="$(node_dir)" || { echo "no Redis recorded on port $PORT"; return; }
    if pid="$(node_pid)"; then
        terminate "$pid" 40 0.25
        echo "stopped Redis on 127.0.0.1:$PORT (pid $pid)"
    fi
    [[ -z "${REDIS_NODE_DIR:-}" ]] && rm -rf "$dir"
    rm -f "$STATE"
}

status() {
    if pid="$(node_pid)"; then
        echo "$(url) running (pid $pid, folder $(node_dir))"
    else
        echo "Redis on 127.0.0.1:$PORT: stopped"
        return 1
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    url) url ;;
    *) echo "usage: bash scripts/redis_node.sh start|stop|status|url" >&2; exit 2 ;;
esac
