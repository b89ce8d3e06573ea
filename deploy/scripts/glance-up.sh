#!/usr/bin/env bash
# Starts a throwaway, unauthenticated OpenStack Glance API (Debian's Zed
# packages, Glance 25.x) on 127.0.0.1 for tests and the all-in-one setup:
#
#     deploy/scripts/glance-up.sh DIR [PORT]
#     ...
#     deploy/scripts/glance-down.sh DIR
#
# Everything the instance owns lives under DIR (created if missing; must not
# already hold a running instance): glance-api.conf, the SQLite database
# glance.sqlite, the file store images/, the staging/ and tasks/ stores, locks/,
# glance-api.log and glance-api.pid. Nothing is shared with other instances,
# so several can run at once (each on its own port).
#
# Without PORT a free port is picked (and, should another process grab it
# before Glance binds it, another one, up to 3 times). On success prints
#
#     GLANCE_URL=http://127.0.0.1:PORT
#     GLANCE_PID=PID
#
# on stdout and writes the same lines to DIR/env; diagnostics go to stderr.
# On failure exits non-zero after stopping whatever it started, printing the
# tail of DIR/glance-api.log; DIR itself is kept for inspection (remove it
# with glance-down.sh DIR).
#
# The API runs with `[paste_deploy] flavor =` empty: no Keystone, every request
# is an admin request with no owner. glance-api is started in its own session
# (setsid), so its process group id is GLANCE_PID and glance-down.sh can stop
# it together with anything it forked.
#
# Installing the packages (only when glance-api or python3-glance is missing):
# `apt-get install --no-install-recommends glance-api python3-glance` through
# lib.sh's stratus_ensure_apt (~210 packages). Their maintainer scripts would
# start glance-api through invoke-rc.d, which cannot work here (no systemd, and
# the packaged config points at Keystone and MySQL-less defaults), so while
# installing, /usr/sbin/policy-rc.d must forbid service starts (exit 101). If
# the machine has no policy-rc.d we install one for the duration of the install
# and remove it afterwards; an existing one (e.g. Docker's, which already exits
# 101) is left alone. Installs from concurrent glance-up.sh runs are serialised
# with flock, and apt waits for the dpkg lock (DPkg::Lock::Timeout) when another
# apt run holds it.
#
# Environment:
#   GLANCE_START_TIMEOUT   seconds to wait for GET /healthcheck == 200 (default 60)
#   GLANCE_DB_SYNC_TIMEOUT seconds allowed for glance-manage db_sync (default 120)
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly HOST=127.0.0.1
readonly PACKAGES=(glance-api python3-glance)
readonly PASTE_INI=/etc/glance/glance-api-paste.ini
readonly INSTALL_LOCK=/tmp/stratus-glance-install.lock
readonly POLICY_RC_D=/usr/sbin/policy-rc.d
readonly POLICY_RC_D_MARKER="# stratus glance-up.sh: temporary, forbids service starts during apt-get install"
# Debian's interpreter, never a pyenv/venv python that may be first on PATH.
readonly PY=/usr/bin/python3
START_TIMEOUT="${GLANCE_START_TIMEOUT:-60}"
DB_SYNC_TIMEOUT="${GLANCE_DB_SYNC_TIMEOUT:-120}"
readonly PORT_ATTEMPTS=3

usage() {
    printf 'usage: %s DIR [PORT]\n' "$(basename "$0")" >&2
    exit 2
}

(( $# >= 1 && $# <= 2 )) || usage
[[ -n "$1" ]] || usage
requested_port="${2:-}"
if [[ -n "$requested_port" ]]; then
    if ! [[ "$requested_port" =~ ^[0-9]+$ ]] || (( 10#$requested_port < 1 || 10#$requested_port > 65535 )); then
        stratus_die "PORT must be a number between 1 and 65535, got '$requested_port'"
    fi
    requested_port=$((10#$requested_port))
fi
[[ "$START_TIMEOUT" =~ ^[0-9]+$ ]] || stratus_die "GLANCE_START_TIMEOUT must be a number of seconds"
[[ "$DB_SYNC_TIMEOUT" =~ ^[0-9]+$ ]] || stratus_die "GLANCE_DB_SYNC_TIMEOUT must be a number of seconds"

mkdir -p -- "$1" || stratus_die "cannot create $1"
DIR="$(cd -- "$1" && pwd -P)" || stratus_die "cannot enter $1"
CONF="$DIR/glance-api.conf"
LOG="$DIR/glance-api.log"
PID_FILE="$DIR/glance-api.pid"
ENV_FILE="$DIR/env"

# ----------------------------------------------------------------- helpers

# _glance_pid_alive PID : true when PID exists and is not a zombie.
_glance_pid_alive() {
    local state
    [[ -r "/proc/$1/stat" ]] || return 1
    state="$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# _glance_group_alive PGID : true when any live (non-zombie) process is in group PGID.
_glance_group_alive() {
    local pid
    for pid in $(pgrep -g "$1" 2>/dev/null); do
        if _glance_pid_alive "$pid"; then
            return 0
        fi
    done
    return 1
}

_glance_log_tail() {
    if [[ -s "$LOG" ]]; then
        printf '[stratus] --- last 40 lines of %s ---\n' "$LOG" >&2
        tail -n 40 -- "$LOG" >&2 || true
        printf '[stratus] --- end of %s ---\n' "$LOG" >&2
    fi
}

glance_pid=""

# Stops the glance-api process group this script started (TERM, then KILL).
_glance_stop_started() {
    local pid="$glance_pid" i
    [[ -n "$pid" ]] || return 0
    glance_pid=""
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        _glance_group_alive "$pid" || break
        sleep 0.1
    done
    if _glance_group_alive "$pid"; then
        kill -KILL -- "-$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            _glance_group_alive "$pid" || break
            sleep 0.1
        done
    fi
    # Reap it if it is still our child (no zombie left behind).
    wait "$pid" 2>/dev/null || true
    rm -f -- "$PID_FILE" "$ENV_FILE"
}

_glance_on_exit() {
    local rc=$?
    if (( rc != 0 )) && [[ -n "$glance_pid" ]]; then
        stratus_log "stopping glance-api (pid $glance_pid) after the failure"
        _glance_stop_started
    fi
    exit "$rc"
}
trap _glance_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

_glance_free_port() {
    "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

_glance_port_in_use() {
    "$PY" -c 'import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)' "$1"
}

# ----------------------------------------------------------------- install

_glance_install() {
    local ours=0 rc=0
    stratus_log "Glance packages missing; installing ${PACKAGES[*]} (takes minutes the first time)"
    [[ "$(id -u)" == 0 ]] || { stratus_ensure_apt "${PACKAGES[@]}"; return 1; }
    if [[ ! -e "$POLICY_RC_D" ]]; then
        printf '#!/bin/sh\n%s\nexit 101\n' "$POLICY_RC_D_MARKER" >"$POLICY_RC_D"
        chmod 755 "$POLICY_RC_D"
        ours=1
        stratus_log "installed a temporary $POLICY_RC_D (exit 101) so the packages do not start services"
    else
        local prc=0
        "$POLICY_RC_D" glance-api start >/dev/null 2>&1 || prc=$?
        if (( prc != 101 )); then
            stratus_log "note: existing $POLICY_RC_D allows service starts (exit $prc); the packages may try to start glance-api"
        fi
    fi
    local started=$SECONDS
    # Wait for the dpkg lock rather than failing when another apt run holds it.
    local apt_conf
    apt_conf="$(mktemp /tmp/stratus-glance-apt.XXXXXX)"
    printf 'DPkg::Lock::Timeout "600";\n' >"$apt_conf"
    APT_CONFIG="$apt_conf" stratus_ensure_apt "${PACKAGES[@]}" || rc=$?
    rm -f -- "$apt_conf"
    if (( ours )) && grep -qF -- "$POLICY_RC_D_MARKER" "$POLICY_RC_D" 2>/dev/null; then
        rm -f -- "$POLICY_RC_D"
    fi
    (( rc == 0 )) || return "$rc"
    stratus_log "installed ${PACKAGES[*]} in $((SECONDS - started)) s"
}

_glance_missing() {
    local pkg
    for pkg in "${PACKAGES[@]}"; do
        _stratus_pkg_installed "$pkg" || return 0
    done
    return 1
}

if _glance_missing; then
    exec 9>"$INSTALL_LOCK" || stratus_die "cannot open $INSTALL_LOCK"
    flock -w 1800 9 || stratus_die "timed out waiting for another Glance install ($INSTALL_LOCK)"
    if _glance_missing; then
        _glance_install || stratus_die "could not install ${PACKAGES[*]}"
    fi
    flock -u 9
    exec 9>&-
fi
for tool in glance-api glance-manage; do
    command -v "$tool" >/dev/null 2>&1 || stratus_die "$tool not found on PATH although ${PACKAGES[*]} are installed"
done
[[ -r "$PASTE_INI" ]] || stratus_die "$PASTE_INI is missing (package glance-api should ship it)"
[[ -x "$PY" ]] || stratus_die "$PY is missing"

# ----------------------------------------------------------------- configure

if [[ -r "$PID_FILE" ]]; then
    old_pid="$(cat -- "$PID_FILE" 2>/dev/null || true)"
    if [[ "$old_pid" =~ ^[0-9]+$ ]] && _glance_pid_alive "$old_pid" \
        && tr '\0' ' ' <"/proc/$old_pid/cmdline" 2>/dev/null | grep -qF -- "$CONF"; then
        stratus_die "$DIR already holds a running Glance (pid $old_pid); run glance-down.sh $DIR first"
    fi
fi
rm -f -- "$PID_FILE" "$ENV_FILE"
mkdir -p -- "$DIR/images" "$DIR/staging" "$DIR/tasks" "$DIR/locks"

# write_conf PORT
write_conf() {
    cat >"$CONF" <<EOF
# Written by deploy/scripts/glance-up.sh: throwaway, unauthenticated Glance.
[DEFAULT]
bind_host = $HOST
bind_port = $1
workers = 0
enabled_backends = fs:file
# oslo.log appends to the same file glance-api's stdout/stderr go to (both
# O_APPEND), so early tracebacks and the log end up together, uncoloured.
log_file = $LOG
use_stderr = false
debug = false

[database]
connection = sqlite:///$DIR/glance.sqlite

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = $DIR/images

[os_glance_staging_store]
filesystem_store_datadir = $DIR/staging

[os_glance_tasks_store]
filesystem_store_datadir = $DIR/tasks

[oslo_concurrency]
lock_path = $DIR/locks

[paste_deploy]
flavor =
config_file = $PASTE_INI

[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
EOF
}

# Run the glance tools from DIR and with a clean Python environment, so a
# pyenv/virtualenv of the caller cannot leak in.
_glance_env=(env -u PYTHONPATH -u PYTHONHOME -u VIRTUAL_ENV)

if [[ -n "$requested_port" ]] && _glance_port_in_use "$requested_port"; then
    stratus_die "port $requested_port on $HOST is already in use"
fi
write_conf "${requested_port:-0}"
stratus_log "glance-manage db_sync ($DIR/glance.sqlite)"
if ! (cd -- "$DIR" && timeout -k 5 "$DB_SYNC_TIMEOUT" "${_glance_env[@]}" \
        glance-manage --config-file "$CONF" db_sync >"$DIR/db_sync.log" 2>&1); then
    tail -n 40 -- "$DIR/db_sync.log" >&2 || true
    stratus_die "glance-manage db_sync failed (full output in $DIR/db_sync.log)"
fi

# ----------------------------------------------------------------- start

# start_glance PORT : starts glance-api on PORT and waits for /healthcheck.
# Returns 0 when healthy, 2 when the port was taken (retry on another), 1 otherwise.
start_glance() {
    local port="$1" url="http://$HOST:$1" code deadline
    write_conf "$port"
    : >"$LOG"
    # setsid: glance-api becomes a session and process-group leader (pgid ==
    # pid; no fork as this non-interactive shell's background job is not a
    # group leader), so glance-down.sh can signal the whole group.
    (cd -- "$DIR" && exec setsid "${_glance_env[@]}" glance-api --config-file "$CONF") \
        </dev/null >>"$LOG" 2>&1 &
    glance_pid=$!
    printf '%s\n' "$glance_pid" >"$PID_FILE"
    stratus_log "glance-api pid $glance_pid starting on $url (log $LOG)"
    deadline=$((SECONDS + START_TIMEOUT))
    while :; do
        if ! _glance_pid_alive "$glance_pid"; then
            local rc=0
            wait "$glance_pid" 2>/dev/null || rc=$?
            glance_pid=""
            rm -f -- "$PID_FILE"
            # Glance retries bind() for 30 s, then fails with "Could not bind to".
            if grep -qiE 'could not bind to|address already in use|errno 98' "$LOG"; then
                stratus_log "port $port was taken before glance-api could bind it"
                return 2
            fi
            _glance_log_tail
            stratus_log "ERROR: glance-api exited with status $rc before becoming healthy"
            return 1
        fi
        code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url/healthcheck" 2>/dev/null || true)"
        if [[ "$code" == 200 ]]; then
            return 0
        fi
        if (( SECONDS >= deadline )); then
            _glance_log_tail
            stratus_log "ERROR: glance-api did not answer GET $url/healthcheck with 200 within $START_TIMEOUT s (last status '${code:-none}')"
            _glance_stop_started
            return 1
        fi
        sleep 0.2
    done
}

started_at=$SECONDS
attempt=1
while :; do
    if [[ -n "$requested_port" ]]; then
        port="$requested_port"
        if _glance_port_in_use "$port"; then
            stratus_die "port $port on $HOST is already in use"
        fi
    else
        port="$(_glance_free_port)" || stratus_die "cannot find a free TCP port on $HOST"
    fi
    rc=0
    start_glance "$port" || rc=$?
    if (( rc == 0 )); then
        break
    fi
    if (( rc == 2 )) && [[ -z "$requested_port" ]] && (( attempt < PORT_ATTEMPTS )); then
        attempt=$((attempt + 1))
        continue
    fi
    (( rc == 2 )) && _glance_log_tail
    stratus_die "Glance did not start (see $LOG)"
done

printf 'GLANCE_URL=http://%s:%s\nGLANCE_PID=%s\n' "$HOST" "$port" "$glance_pid" >"$ENV_FILE.tmp"
mv -f -- "$ENV_FILE.tmp" "$ENV_FILE"
stratus_log "Glance ready at http://$HOST:$port in $((SECONDS - started_at)) s (pid $glance_pid, dir $DIR)"
cat -- "$ENV_FILE"
# Success: leave glance-api running (it is in its own session, so it survives us).
glance_pid=""
