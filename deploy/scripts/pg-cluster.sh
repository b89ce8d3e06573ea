#!/usr/bin/env bash
# A private PostgreSQL cluster in a directory: what the all-in-one (deploy/aio.sh)
# and the tests (testkit PostgresCluster) both start.
#
#     pg-cluster.sh init DIR
#     pg-cluster.sh start DIR PORT [-c NAME=VALUE]...
#     pg-cluster.sh stop DIR [fast|immediate]
#
# Layout: DIR/data (the cluster), DIR/postgres.log (the server log), and the
# server's unix socket in DIR itself.
#
# init   creates DIR (mode 700) when missing and runs initdb in DIR/data:
#        superuser `stratus`, trust authentication for local connections, UTF8,
#        locale C.UTF-8 where glibc ships it (else C), --no-sync.
# start  starts the server listening on 127.0.0.1:PORT only, with any further
#        server settings given as -c NAME=VALUE, and waits until it accepts
#        connections (pg_ctl -w, 60 s). Exit status 3 when PORT was taken, so
#        the caller can try another one.
# stop   stops the server: fast (the default; sessions are ended and a
#        checkpoint written) or immediate (as a crash would: no checkpoint).
#        Waits 30 s, then kills the postmaster. Succeeds when none runs.
#
# PostgreSQL refuses to run as root: as root, DIR is handed to the `postgres`
# OS user and every tool runs as that user through runuser (create the user
# with deploy/scripts/ensure-postgres.sh). The server binaries are
# $STRATUS_PG_BIN, or the highest-version /usr/lib/postgresql/*/bin.
#
# Exit status: 0 done; 1 failure (the reason, and the server log's tail when
# the server was involved, on stderr); 2 usage; 3 start: port taken.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
}

bad_usage() {
    usage
    stratus_log "ERROR: $*"
    exit 2
}

PG_BIN="$(stratus_pg_bin)" || stratus_die "PostgreSQL server binaries not found; run deploy/scripts/ensure-postgres.sh"
AS_POSTGRES=0
if [[ "$(id -u)" == 0 ]]; then
    AS_POSTGRES=1
    getent passwd postgres >/dev/null \
        || stratus_die "running as root, so PostgreSQL must run as the 'postgres' OS user, which does not exist; run deploy/scripts/ensure-postgres.sh"
fi

# as_pg CMD... : CMD as the cluster's owner (postgres when we are root), from /.
as_pg() {
    if (( AS_POSTGRES )); then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# log_tail DIR : the server log's last lines, on stderr.
log_tail() {
    if [[ -r "$1/postgres.log" ]]; then
        printf -- '--- last lines of %s ---\n' "$1/postgres.log" >&2
        tail -n 40 "$1/postgres.log" >&2
    fi
}

# absolute DIR : DIR made absolute.
absolute() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s\n' "$PWD/$1" ;;
    esac
}

cmd_init() {
    (( $# == 1 )) || bad_usage "init takes DIR"
    local dir locale=C
    dir="$(absolute "$1")"
    [[ ! -e "$dir/data" ]] || stratus_die "$dir/data exists already"
    mkdir -p -m 700 "$dir"
    if (( AS_POSTGRES )); then
        chown postgres: "$dir"
        chmod 700 "$dir"
    fi
    as_pg test -w "$dir" \
        || stratus_die "the postgres user cannot write $dir (it needs to reach every parent directory)"
    # codepoint collation (deterministic ordering) with UTF-8 aware upper/lower where glibc has it
    [[ -d /usr/lib/locale/C.utf8 ]] && locale=C.UTF-8
    local out
    if ! out="$(as_pg "$PG_BIN/initdb" -D "$dir/data" -A trust -U stratus -E UTF8 \
            --locale="$locale" --no-sync 2>&1)"; then
        printf '%s\n' "$out" >&2
        stratus_die "initdb -D $dir/data failed"
    fi
}

cmd_start() {
    (( $# >= 2 )) || bad_usage "start takes DIR PORT [-c NAME=VALUE]..."
    local dir port options
    dir="$(absolute "$1")"
    port="$2"
    shift 2
    [[ "$port" =~ ^[0-9]+$ ]] && (( port > 0 && port < 65536 )) || bad_usage "PORT must be 1-65535, not '$port'"
    [[ -d "$dir/data" ]] || stratus_die "no cluster in $dir/data (run: pg-cluster.sh init $dir)"
    options="-p $port -k '$dir' -c listen_addresses=127.0.0.1"
    while (( $# )); do
        [[ "$1" == -c && $# -ge 2 && "$2" =~ ^[a-z_]+=[A-Za-z0-9_.]+$ ]] \
            || bad_usage "server settings are -c NAME=VALUE, not '$*'"
        options+=" -c $2"
        shift 2
    done
    local before=0
    [[ -r "$dir/postgres.log" ]] && before="$(wc -l <"$dir/postgres.log")"
    if as_pg "$PG_BIN/pg_ctl" start -D "$dir/data" -l "$dir/postgres.log" -w -t 60 -o "$options" >/dev/null 2>&1; then
        return 0
    fi
    # nothing half-started may keep the data directory
    as_pg "$PG_BIN/pg_ctl" stop -D "$dir/data" -m immediate -w -t 10 >/dev/null 2>&1 || true
    if tail -n "+$(( before + 1 ))" "$dir/postgres.log" 2>/dev/null | grep -q 'could not bind\|Address already in use'; then
        stratus_log "port $port is taken"
        exit 3
    fi
    log_tail "$dir"
    stratus_die "PostgreSQL did not start on 127.0.0.1:$port (data in $dir/data)"
}

cmd_stop() {
    (( $# == 1 || $# == 2 )) || bad_usage "stop takes DIR [fast|immediate]"
    local dir mode="${2:-fast}" pid i
    dir="$(absolute "$1")"
    case "$mode" in fast|immediate) ;; *) bad_usage "the stop mode is fast or immediate, not '$mode'" ;; esac
    [[ -r "$dir/data/postmaster.pid" ]] || return 0
    pid="$(head -n 1 "$dir/data/postmaster.pid" | tr -dc '0-9')"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    as_pg "$PG_BIN/pg_ctl" stop -D "$dir/data" -m "$mode" -w -t 30 >/dev/null 2>&1 || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    stratus_log "postgres (pid $pid) did not stop: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    pkill -KILL -P "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    stratus_die "postgres (pid $pid) is still alive"
}

case "${1:-}" in
    init) shift; cmd_init "$@" ;;
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    -h|--help) usage ;;
    *) bad_usage "expected init, start or stop" ;;
esac
