# What the throw-away servers of the tests share (sourced by es_node.sh, pg_node.sh and
# redis_node.sh): running as a system user when started as root (the servers refuse root), and
# stopping a process.

# Whether process $1 runs (a zombie, killed but not yet reaped, does not).
alive() { local s; s="$(ps -o stat= -p "$1" 2>/dev/null)" && [[ "$s" != Z* ]]; }

# Run the command as system user $1 (created when missing) when this shell is root; else as is.
as_system_user() {
    local user="$1"
    shift
    if [[ "$(id -u)" == 0 ]]; then
        id "$user" >/dev/null 2>&1 \
            || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
        setpriv --reuid="$user" --regid="$user" --clear-groups -- "$@"
    else
        "$@"
    fi
}

# TERM to process $1, then KILL if it still runs after $2 checks $3 seconds apart.
terminate() {
    local pid="$1" checks="$2" pause="$3" i
    kill -TERM "$pid"
    for i in $(seq "$checks"); do alive "$pid" || break; sleep "$pause"; done
    if alive "$pid"; then kill -KILL "$pid"; fi
}
