#!/usr/bin/env bash
# A real single-node Elasticsearch on 127.0.0.1 for development and tests, without Docker.
#
#   bash scripts/es_node.sh start [-Esetting=value ...]   # `make es`: returns once green, prints the URL
#   bash scripts/es_node.sh stop                          # `make es-stop`: by the recorded pid
#   bash scripts/es_node.sh status
#
# What it is: Elasticsearch's own server code, from its integration-test distribution on Maven
# Central (org.elasticsearch.distribution.integ-test-zip), unpacked once into .cache/es/. That
# distribution has no x-pack features beyond core/security (security is switched off here) and no
# bundled JDK: it runs on Java 21+ (ES_JAVA_HOME, default: the Temurin JDK 25 of these machines).
# It also lacks the analysis-common module, so the two analysis components our index template
# names ("english" analyzer, "asciifolding" filter) come from a ten-line plugin built here from
# scripts/es_node/analysis/ with the same Lucene classes the module uses. See README, "A real
# Elasticsearch node without Docker". What it is not: the production setup (docker-compose.yml).
#
# Settings (environment): ES_PORT (9200), ES_HEAP (512m), ES_JAVA_HOME, ES_NODE_DIR (where the
# node's data, logs and config live; default: a new temporary folder, removed by `stop`).
# A node killed with kill -9 keeps its data: `start` again reuses the recorded folder.
# Elasticsearch refuses to run as root: as root, the node runs as the system user article-etl-es.
set -euo pipefail

ES_VERSION=9.4.5 # the one place the test node's version is pinned
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/servers.sh
source "$ROOT/scripts/lib/servers.sh"
CACHE="$ROOT/.cache/es"
HOME_DIR="$CACHE/elasticsearch-$ES_VERSION"
PORT="${ES_PORT:-9200}"
URL="http://127.0.0.1:$PORT"
STATE="$CACHE/node-$PORT.dir" # holds the path of this port's node folder
ES_USER=article-etl-es

die() { echo "es_node: $*" >&2; exit 1; }

java_home() {
    local candidate
    for candidate in "${ES_JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-21-jdk-amd64; do
        [[ -n "$candidate" && -x "$candidate/bin/java" ]] || continue
        local major
        major="$("$candidate/bin/java" -XshowSettings:properties -version 2>&1 \
            | sed -n 's/^ *java.specification.version = //p')"
        if [[ "${major%%.*}" -ge 21 ]]; then echo "$candidate"; return; fi
    done
    die "Elasticsearch $ES_VERSION needs Java 21 or newer: set ES_JAVA_HOME to one"
}

install_node() {
    [[ -x "$HOME_DIR/bin/elasticsearch" && -f "$HOME_DIR/.article-etl-ready" ]] && return
    command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Elasticsearch from Maven Central"
    mkdir -p "$CACHE"
    local zip="$CACHE/elasticsearch-$ES_VERSION.zip"
    if [[ ! -s "$zip" ]]; then
        echo "fetching Elasticsearch $ES_VERSION (integ-test-zip) from Maven Central ..." >&2
        mvn -q -B dependency:copy \
            "-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
            "-DoutputDirectory=$CACHE" >&2 || die "mvn could not fetch the Elasticsearch distribution"
    fi
    rm -rf "$HOME_DIR"
    # Python's zipfile rather than unzip (not on every machine), keeping the files' modes.
    python3 - "$zip" "$CACHE" <<'PY' || die "could not unpack $zip"
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as archive:
    for info in archive.infolist():
        path = archive.extract(info, sys.argv[2])
        mode = info.external_attr >> 16
        if mode and not info.is_dir():
            os.chmod(path, mode & 0o777)
PY
    local jh plugin="$HOME_DIR/plugins/article-etl-test-analysis" build
    jh="$(java_home)"
    build="$(mktemp -d)"
    "$jh/bin/javac" --release 21 -nowarn -cp "$HOME_DIR/lib/*" -d "$build" \
        "$ROOT/scripts/es_node/analysis/ArticleEtlTestAnalysis.java" >&2 \
        || die "could not build the analysis plugin"
    mkdir -p "$plugin"
    "$jh/bin/jar" cf "$plugin/article-etl-test-analysis.jar" -C "$build" .
    rm -rf "$build"
    cat >"$plugin/plugin-descriptor.properties" <<EOF
description=analysis-common's english analyzer and asciifolding filter (article-etl test node)
version=$ES_VERSION
name=article-etl-test-analysis
classname=org.articleetl.testnode.ArticleEtlTestAnalysis
java.version=21
elasticsearch.version=$ES_VERSION
EOF
    chmod -R a+rX "$HOME_DIR"
    touch "$HOME_DIR/.article-etl-ready"
}

healthy() {
    python3 - "$URL/_cluster/health?wait_for_status=green&timeout=1s" <<'PY' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
    sys.exit(0 if b'"status":"green"' in response.read() else 1)
PY
}

node_dir() { [[ -f "$STATE" ]] && cat "$STATE"; }

node_pid() {
    local dir pid
    dir="$(node_dir)" || return 1
    pid="$(cat "$dir/es.pid" 2>/dev/null)" || return 1
    kill -0 "$pid" 2>/dev/null && echo "$pid"
}


start() {
    if pid="$(node_pid)"; then echo "already running (pid $pid)" >&2; echo "$URL"; return; fi
    install_node
    local dir jh
    dir="$(node_dir || true)"
    if [[ -z "$dir" || ! -d "$dir" ]]; then
        dir="${ES_NODE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/article-etl-es-$PORT.XXXXXX")}"
        mkdir -p "$dir/data" "$dir/logs"
        cp -r "$HOME_DIR/config" "$dir/config"
        echo "$dir" >"$STATE"
    fi
    rm -f "$dir/es.pid"
    [[ "$(id -u)" == 0 ]] && { as_system_user "$ES_USER" true; chown -R "$ES_USER:" "$dir"; chmod 755 "$dir"; }
    jh="$(java_home)"
    as_system_user "$ES_USER" env -i PATH=/usr/bin:/bin HOME="$dir" ES_JAVA_HOME="$jh" ES_PATH_CONF="$dir/config" \
        ES_JAVA_OPTS="-Xms${ES_HEAP:-512m} -Xmx${ES_HEAP:-512m}" \
        "$HOME_DIR/bin/elasticsearch" -d -p "$dir/es.pid" \
        -Ediscovery.type=single-node -Enetwork.host=127.0.0.1 -Ehttp.port="$PORT" \
        -Etransport.port="$((PORT + 100))" -Epath.data="$dir/data" -Epath.logs="$dir/logs" \
        -Expack.security.enabled=false -Ecluster.routing.allocation.disk.threshold_enabled=false \
        "$@" >"$dir/start.out" 2>&1 \
        || { tail -n 20 "$dir/start.out" >&2; die "Elasticsearch did not start (log: $dir/logs)"; }
    local i
    for i in $(seq 120); do
        if healthy; then
            echo "$URL"
            return
        fi
        node_pid >/dev/null || { tail -n 20 "$dir/start.out" >&2; die "Elasticsearch exited while starting (log: $dir/logs)"; }
        sleep 1
    done
    die "Elasticsearch at $URL is not green after 120 s (log: $dir/logs)"
}

stop() {
    local dir pid
    dir="$(node_dir)" || { echo "no node recorded on port $PORT"; return; }
    if pid="$(node_pid)"; then
        terminate "$pid" 60 0.5
        echo "stopped Elasticsearch at $URL (pid $pid)"
    fi
    [[ -z "${ES_NODE_DIR:-}" ]] && rm -rf "$dir"
    rm -f "$STATE"
}

status() {
    if pid="$(node_pid)"; then echo "$URL running (pid $pid, folder $(node_dir))"; else echo "$URL: stopped"; return 1; fi
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: bash scripts/es_node.sh start [-Esetting=value ...]|stop|status" >&2; exit 2 ;;
esac
