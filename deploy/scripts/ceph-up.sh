#!/usr/bin/env bash
# Starts a throwaway single-node Ceph cluster (Pacific: 1 mon, 1 bluestore OSD
# on an 8 GiB sparse file, 1 mgr, cephx off) under DIR, listening on 127.0.0.1
# only, for tests and the all-in-one:
#
#     deploy/scripts/ceph-up.sh DIR [MON_PORT]
#     ... use it (CEPH_CONF etc. from DIR/env) ...
#     deploy/scripts/ceph-down.sh DIR
#
# DIR must not exist or be empty. MON_PORT defaults to a free port in
# 20000-32767 (below the kernel's ephemeral range, above Ceph's 6800-7300).
# Installs ceph-mon ceph-osd ceph-mgr ceph-common when missing (apt, root).
#
# On success DIR/env holds, and stdout repeats, these shell lines:
#     CEPH_CONF=DIR/ceph.conf
#     CEPH_FSID=<uuid>
#     CEPH_MON_HOST=v2:127.0.0.1:<port>
#     CEPH_POOL_DISKS=rbd
#     CEPH_POOL_IMAGES=images
#     CEPH_PIDS="<mon> <osd> <mgr> <supervisor>"
# The cluster is ready then: the OSD is up and in, health is HEALTH_OK or
# HEALTH_WARN, both pools are `rbd pool init`-ed and an image was created and
# removed in each. Only the mgr module rbd_support is loaded (memory); the
# resulting MGR_MODULE_ERROR is muted. Diagnostics go to stderr. On failure (exit 1) everything
# started is stopped again and DIR is removed (set STRATUS_CEPH_KEEP=1 to keep
# DIR for a post-mortem; the daemons are stopped either way).
#
# The daemons run in the foreground as children of a small supervisor (this
# script in --supervise mode, in its own session), which reaps them (PID 1 of
# some containers/VMs does not) and stops the cluster and removes DIR when its
# owner dies: this script while starting, afterwards the process named by
# STRATUS_CEPH_OWNER_PID (e.g. a test JVM; unset = no owner, runs until
# ceph-down.sh). Several clusters can run at once in different DIRs.
#
# Environment:
#     STRATUS_CEPH_OWNER_PID      stop the cluster when this process exits
#     STRATUS_CEPH_START_TIMEOUT  seconds for the whole start-up (default 180),
#                                 not counting package installation
#     STRATUS_CEPH_KEEP=1         keep DIR after a failed start
set -euo pipefail

SCRIPT="$(readlink -f "${BASH_SOURCE[0]}")"
SCRIPT_DIR="$(dirname "$SCRIPT")"
# shellcheck source=lib.sh
. "$SCRIPT_DIR/lib.sh"

# ---------------------------------------------------------------- helpers shared with the supervisor

# _ceph_alive PID [STARTTIME] : true when PID exists, is not a zombie and, if
# STARTTIME is given, still is the same process (field 22 of /proc/PID/stat).
# Uses only builtins (no fork): the supervisor calls it every second.
_ceph_alive() {
    local pid="$1" want="${2:-}" stat rest state
    local -a fields
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    { read -r stat < "/proc/$pid/stat"; } 2>/dev/null || return 1
    rest="${stat##*) }"
    read -r -a fields <<< "$rest"
    state="${fields[0]}"
    [[ "$state" != Z && "$state" != X && "$state" != x ]] || return 1
    # fields[0] is field 3 of stat, so field 22 (starttime) is fields[19].
    [[ -z "$want" || "${fields[19]}" == "$want" ]]
}

# _ceph_starttime PID : print field 22 of /proc/PID/stat (process start time).
_ceph_starttime() {
    local stat rest
    local -a fields
    { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
    rest="${stat##*) }"
    read -r -a fields <<< "$rest"
    printf '%s\n' "${fields[19]}"
}

# ---------------------------------------------------------------- supervisor mode (internal)

# _ceph_supervise DIR WATCH_PID WATCH_START
# Reads commands from DIR/run/supervisor.fifo, one per line:
#     start mon|osd|mgr ID     start that daemon in the foreground, write DIR/run/NAME.ID.pid
#     watch PID START          from now on watch PID instead ("watch - -": watch nothing)
#     quit                     kill the daemons and exit
# Once start-up is over ("watch"), exits when the daemons it started have all
# exited (ceph-down.sh kills them). When the watched process dies it becomes
# ceph-down.sh DIR (kills the daemons and any mkfs, removes DIR).
_ceph_supervise() {
    local dir="$1" watch_pid="$2" watch_start="$3"
    local conf="$dir/ceph.conf" fifo="$dir/run/supervisor.fifo"
    local -a children=()
    local line cmd name id pid any handed_over=0
    printf '%s\n' "$$" > "$dir/run/supervisor.pid"
    exec 3<> "$fifo"
    trap '' HUP INT PIPE
    trap '_ceph_supervisor_kill; exit 0' TERM

    _ceph_supervisor_kill() {
        local p
        for p in "${children[@]}"; do
            kill -KILL "$p" 2>/dev/null || true
        done
        for p in "${children[@]}"; do
            wait "$p" 2>/dev/null || true
        done
    }

    _ceph_supervisor_handle() {
        read -r cmd name id <<< "$1" || true
        case "$cmd" in
            start)
                [[ "$id" =~ ^[A-Za-z0-9]+$ ]] || { echo "supervisor: bad id in: $1"; return 0; }
                case "$name" in
                    mon) ceph-mon -f -c "$conf" -i "$id" < /dev/null >> "$dir/log/mon.$id.out" 2>&1 3>&- & ;;
                    osd) ceph-osd -f -c "$conf" -i "$id" < /dev/null >> "$dir/log/osd.$id.out" 2>&1 3>&- & ;;
                    mgr) ceph-mgr -f -c "$conf" -i "$id" < /dev/null >> "$dir/log/mgr.$id.out" 2>&1 3>&- & ;;
                    *) echo "supervisor: unknown daemon in: $1"; return 0 ;;
                esac
                pid=$!
                children+=("$pid")
                printf '%s\n' "$pid" > "$dir/run/$name.$id.pid"
                echo "supervisor: started $name.$id as pid $pid"
                ;;
            watch)
                watch_pid="$name"
                watch_start="$id"
                handed_over=1
                echo "supervisor: start-up done, now watching ${watch_pid}"
                ;;
            quit)
                echo "supervisor: quit"
                _ceph_supervisor_kill
                exit 0
                ;;
            *) echo "supervisor: unknown command: $1" ;;
        esac
    }

    echo "supervisor: pid $$ for $dir, watching $watch_pid"
    while :; do
        if read -r -t 1 -u 3 line; then
            _ceph_supervisor_handle "$line"
            continue
        fi
        if [[ "$watch_pid" != - ]] && ! _ceph_alive "$watch_pid" "$watch_start"; then
            # Commands written just before the watched process exited come first.
            while read -r -t 0.1 -u 3 line; do
                _ceph_supervisor_handle "$line"
            done
            if [[ "$watch_pid" != - ]] && ! _ceph_alive "$watch_pid" "$watch_start"; then
                echo "supervisor: owner $watch_pid is gone: stopping the cluster and removing $dir"
                # ceph-down.sh also finds half-done mkfs runs; it spares its own pid (this one).
                exec bash "$SCRIPT_DIR/ceph-down.sh" "$dir"
            fi
        fi
        # Once started, the cluster is over when all its daemons are (ceph-down.sh).
        if (( handed_over && ${#children[@]} > 0 )); then
            any=0
            for pid in "${children[@]}"; do
                if _ceph_alive "$pid"; then any=1; break; fi
            done
            if (( ! any )); then
                echo "supervisor: all daemons have exited"
                exit 0
            fi
        fi
    done
}

if [[ "${1:-}" == --supervise ]]; then
    shift
    _ceph_supervise "$@"
    exit 0
fi

# ---------------------------------------------------------------- arguments

usage() {
    echo "usage: $0 DIR [MON_PORT]" >&2
    exit 2
}
(( $# >= 1 && $# <= 2 )) || usage
DIR="$1"
[[ -n "$DIR" ]] || usage
[[ "$DIR" == /* ]] || DIR="$PWD/$DIR"
DIR="${DIR%/}"
if [[ "$DIR" =~ [[:space:]\"\'\\\$\`=\;,] ]]; then
    stratus_die "DIR must not contain whitespace, quotes or any of \\ \$ \` = ; , (it goes into ceph.conf and DIR/env): $DIR"
fi
# The OSD's admin socket path must fit in a unix socket address (108 bytes).
(( ${#DIR} <= 80 )) || stratus_die "DIR is too long (${#DIR} > 80 characters; admin sockets live under it): $DIR"
FIXED_PORT="${2:-}"
if [[ -n "$FIXED_PORT" ]] && ! [[ "$FIXED_PORT" =~ ^[0-9]+$ && "$FIXED_PORT" -ge 1 && "$FIXED_PORT" -le 65535 ]]; then
    stratus_die "MON_PORT must be a TCP port number, got: $FIXED_PORT"
fi
START_TIMEOUT="${STRATUS_CEPH_START_TIMEOUT:-180}"
[[ "$START_TIMEOUT" =~ ^[0-9]+$ ]] || stratus_die "STRATUS_CEPH_START_TIMEOUT must be a number of seconds"
OWNER_PID="${STRATUS_CEPH_OWNER_PID:-}"
if [[ -n "$OWNER_PID" ]]; then
    [[ "$OWNER_PID" =~ ^[0-9]+$ ]] || stratus_die "STRATUS_CEPH_OWNER_PID must be a process id"
    OWNER_START="$(_ceph_starttime "$OWNER_PID")" || stratus_die "STRATUS_CEPH_OWNER_PID=$OWNER_PID: no such process"
fi

T0=$SECONDS
T0_REAL="${EPOCHREALTIME/,/.}"

# elapsed : seconds since the script started, with milliseconds ("4.217 s").
elapsed() {
    local now="${EPOCHREALTIME/,/.}"
    awk -v a="$T0_REAL" -v b="$now" 'BEGIN { printf "%.3f s\n", b - a }'
}

# ---------------------------------------------------------------- packages

stratus_ensure_apt ceph-mon ceph-osd ceph-mgr ceph-common || stratus_die "could not install the Ceph packages"
for tool in ceph-mon ceph-osd ceph-mgr monmaptool ceph rbd timeout setsid; do
    command -v "$tool" >/dev/null 2>&1 || stratus_die "'$tool' not found on PATH (packages ceph-mon ceph-osd ceph-mgr ceph-common, coreutils, util-linux)"
done
if (( SECONDS - T0 > 1 )); then
    stratus_log "packages ready after $(elapsed)"
fi

# ---------------------------------------------------------------- directory

if [[ -e "$DIR" ]]; then
    [[ -d "$DIR" ]] || stratus_die "$DIR exists and is not a directory"
    if [[ -n "$(ls -A -- "$DIR")" ]]; then
        stratus_die "$DIR is not empty (a cluster may already run there: stop it with $SCRIPT_DIR/ceph-down.sh $DIR)"
    fi
fi
# bluestore opens its block file with O_DIRECT: check the filesystem before creating anything.
existing="$DIR"
while [[ ! -e "$existing" ]]; do
    existing="$(dirname -- "$existing")"
done
FSTYPE="$(stat -f -c %T -- "$existing")"
case "$FSTYPE" in
    tmpfs|ramfs)
        stratus_die "$DIR is on $FSTYPE, which has no O_DIRECT; bluestore needs it. Use a directory on a disk filesystem (for the Java fixture: -Djava.io.tmpdir=... or TMPDIR)" ;;
esac
mkdir -p -- "$DIR"

CONF="$DIR/ceph.conf"
RUN="$DIR/run"
LOG="$DIR/log"
ENV_FILE="$DIR/env"
FIFO="$RUN/supervisor.fifo"
STARTED_OK=0
DEADLINE=$((SECONDS + START_TIMEOUT))

# ---------------------------------------------------------------- failure handling

_ceph_dump_logs() {
    local f
    for f in "$LOG"/*.log "$LOG"/*.out; do
        [[ -s "$f" ]] || continue
        printf '[stratus] --- last lines of %s ---\n' "$f" >&2
        tail -n 25 -- "$f" >&2 || true
    done
}

_ceph_on_exit() {
    local rc=$?
    if (( STARTED_OK )); then
        return 0
    fi
    trap - EXIT INT TERM
    (( rc != 0 )) || rc=1
    if [[ -d "$DIR" ]]; then
        _ceph_dump_logs
        stratus_log "start-up failed after $((SECONDS - T0)) s: stopping what was started in $DIR"
        if [[ "${STRATUS_CEPH_KEEP:-0}" == 1 ]]; then
            STRATUS_CEPH_KEEP_DIR=1 "$SCRIPT_DIR/ceph-down.sh" "$DIR" >&2 || true
            stratus_log "kept $DIR (STRATUS_CEPH_KEEP=1); remove it with $SCRIPT_DIR/ceph-down.sh $DIR"
        else
            "$SCRIPT_DIR/ceph-down.sh" "$DIR" >&2 || true
        fi
    fi
    exit "$rc"
}
trap _ceph_on_exit EXIT
trap 'stratus_log "interrupted"; exit 130' INT
trap 'stratus_log "terminated"; exit 143' TERM

# fail MESSAGE : die with MESSAGE (the EXIT trap tears down and shows the logs).
fail() {
    stratus_log "ERROR: $*"
    exit 1
}

# remaining : seconds left before the start-up deadline (at least 1).
remaining() {
    local left=$((DEADLINE - SECONDS))
    (( left > 0 )) || fail "start-up took longer than STRATUS_CEPH_START_TIMEOUT=${START_TIMEOUT} s"
    printf '%s\n' "$left"
}

# t SECONDS CMD... : run CMD with a timeout of min(SECONDS, time left), output to stdout/stderr as is.
t() {
    local limit="$1" left
    shift
    left="$(remaining)"
    (( limit <= left )) || limit="$left"
    timeout -k 5 "$limit" "$@"
}

# cephq SECONDS ARGS... : `ceph -c CONF ARGS...` with a timeout; stdout only, stderr to a file.
CEPH_ERR="$LOG/ceph-cli.err"
cephq() {
    local limit="$1"
    shift
    t "$limit" ceph -c "$CONF" --connect-timeout "$limit" "$@" 2>>"$CEPH_ERR"
}

# run_checked WHAT SECONDS CMD... : run CMD with a timeout, fail with its output if it fails.
run_checked() {
    local what="$1" limit="$2" out rc=0
    shift 2
    out="$(t "$limit" "$@" 2>&1)" || rc=$?
    if (( rc != 0 )); then
        if (( rc == 124 || rc == 137 )); then
            fail "$what timed out after ${limit} s: $*"$'\n'"$out"
        fi
        fail "$what failed (exit $rc): $*"$'\n'"$out"
    fi
    printf '%s' "$out"
}

# ---------------------------------------------------------------- ports

# port_in_use PORT : true when /proc/net/tcp{,6} has a socket on PORT (any state).
port_in_use() {
    local hex f
    hex="$(printf '%04X' "$1")"
    for f in /proc/net/tcp /proc/net/tcp6; do
        [[ -r "$f" ]] || continue
        if grep -q -E "^ *[0-9]+: [0-9A-F]+:$hex " "$f"; then
            return 0
        fi
    done
    return 1
}

pick_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 12768))
        if ! port_in_use "$p"; then
            printf '%s\n' "$p"
            return 0
        fi
    done
    fail "no free TCP port found in 20000-32767"
}

# listener_pid_owns PORT PID : true when PID has the socket listening on 127.0.0.1:PORT.
listener_owns() {
    local port="$1" pid="$2" hex inode fd
    hex="$(printf '%04X' "$port")"
    # local 127.0.0.1 = 0100007F, state 0A = LISTEN; field 10 is the inode.
    inode="$(awk -v a="0100007F:$hex" '$2 == a && $4 == "0A" { print $10; exit }' /proc/net/tcp)"
    [[ -n "$inode" ]] || return 1
    for fd in /proc/"$pid"/fd/*; do
        if [[ "$(readlink "$fd" 2>/dev/null)" == "socket:[$inode]" ]]; then
            return 0
        fi
    done
    return 1
}

# ---------------------------------------------------------------- configuration

write_conf() {
    local port="$1" tmp="$CONF.tmp"
    cat > "$tmp" <<EOF
# Throwaway single-node test cluster written by $SCRIPT.
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$port
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
ms bind retry count = 2
ms bind retry delay = 1
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
auth allow insecure global id reclaim = false
client mount timeout = 20
run dir = $RUN
pid file =
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
mon max pg per osd = 1000
# No optional mgr modules; [mgr] below also keeps the always-on ones except
# rbd_support from loading: mgr RSS ~56 MB instead of ~320 MB (~157 MB with
# just the always-on ones). The mgr then reports MGR_MODULE_ERROR, muted below.
mgr initial modules =

[client]
log file =
admin socket =

[mon]
mon data = $DIR/mon/\$id
log file = $LOG/\$name.log
admin socket = $RUN/\$name.asok
paxos propose interval = 0.1
mon osd full ratio = 0.97
mon osd backfillfull ratio = 0.96
mon osd nearfull ratio = 0.95

[osd]
osd data = $DIR/osd/\$id
log file = $LOG/\$name.log
admin socket = $RUN/\$name.asok
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 8589934592
bluestore fsck on mkfs = false
bluestore fsck on mount = false
# Closing a block device waits for the aio thread's poll (default 250 ms);
# mkfs and start-up open and close it about a dozen times.
bdev aio poll ms = 20
osd memory target = 939524096
bluestore cache autotune = false
bluestore cache size = 67108864
osd op num shards = 2
osd op num threads per shard = 1
# No scrubbing during the cluster's short life.
osd scrub min interval = 31536000
osd scrub max interval = 31536000
osd deep scrub interval = 31536000

[mgr]
mgr data = $DIR/mgr/\$id
log file = $LOG/\$name.log
admin socket = $RUN/\$name.asok
# Everything but rbd_support (rbd trash/mirror schedules, rbd perf, rbd task).
mgr disabled modules = alerts,balancer,crash,devicehealth,diskprediction_local,influx,insights,iostat,localpool,mirroring,nfs,orchestrator,osd_perf_query,osd_support,pg_autoscaler,progress,prometheus,restful,selftest,snap_schedule,stats,status,telegraf,telemetry,test_orchestrator,volumes,zabbix,cephadm,dashboard,k8sevents,rook
EOF
    mv -f -- "$tmp" "$CONF"
}

# ---------------------------------------------------------------- supervisor

supervisor() {
    printf '%s\n' "$*" >&4
}

# wait_pidfile NAME : wait for the supervisor's DIR/run/NAME.pid, print the pid.
wait_pidfile() {
    local f="$RUN/$1.pid" pid
    for _ in $(seq 1 100); do
        if [[ -s "$f" ]]; then
            read -r pid < "$f" || true
            if [[ "$pid" =~ ^[0-9]+$ ]]; then
                printf '%s\n' "$pid"
                return 0
            fi
        fi
        sleep 0.05
    done
    fail "the supervisor did not start $1 (see $LOG/supervisor.log)"
}

# ---------------------------------------------------------------- bootstrap

mkdir -p -- "$RUN" "$LOG" "$DIR/mon" "$DIR/osd" "$DIR/mgr"
FSID="$(cat /proc/sys/kernel/random/uuid)"
mkfifo -- "$FIFO"
exec 4<> "$FIFO"
MY_START="$(_ceph_starttime $$)"
setsid bash "$SCRIPT" --supervise "$DIR" "$$" "$MY_START" < /dev/null >> "$LOG/supervisor.log" 2>&1 4>&- &
SUPERVISOR_PID="$(wait_pidfile supervisor)"

# Monitor, on a fixed port or on a free one (retried if another process took it meanwhile).
MON_PID=""
PORT=""
for attempt in 1 2 3; do
    if [[ -n "$FIXED_PORT" ]]; then
        PORT="$FIXED_PORT"
        port_in_use "$PORT" && fail "MON_PORT $PORT is already in use on this machine"
    else
        PORT="$(pick_port)"
    fi
    write_conf "$PORT"
    rm -rf -- "$DIR/mon/a" "$DIR/monmap"
    run_checked monmaptool 10 monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$PORT]" "$DIR/monmap" >/dev/null
    run_checked "ceph-mon --mkfs" 30 ceph-mon -f -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" >/dev/null
    rm -f -- "$RUN/mon.a.pid"
    supervisor start mon a
    MON_PID="$(wait_pidfile mon.a)"
    up=0
    for _ in $(seq 1 200); do
        if listener_owns "$PORT" "$MON_PID"; then
            up=1
            break
        fi
        _ceph_alive "$MON_PID" || break
        remaining >/dev/null
        sleep 0.05
    done
    if (( up )); then
        break
    fi
    if _ceph_alive "$MON_PID"; then
        fail "ceph-mon (pid $MON_PID) is not listening on 127.0.0.1:$PORT after 10 s"
    fi
    if [[ -z "$FIXED_PORT" ]] && (( attempt < 3 )) && grep -q -i -E 'bind|address already in use' "$LOG/mon.a.log" "$LOG/mon.a.out" 2>/dev/null; then
        stratus_log "ceph-mon could not bind port $PORT; trying another one"
        mv -f -- "$LOG/mon.a.log" "$LOG/mon.a.attempt$attempt.log" 2>/dev/null || true
        continue
    fi
    fail "ceph-mon exited during start-up (port $PORT)"
done
(( up )) || fail "ceph-mon could not bind a port after 3 attempts"
stratus_log "mon a up on v2:127.0.0.1:$PORT after $(elapsed)"

supervisor start mgr x
MGR_PID="$(wait_pidfile mgr.x)"

# OSD: register it (with its uuid, else it never boots).
OSD_UUID="$(cat /proc/sys/kernel/random/uuid)"
OSD_ID="$(run_checked "ceph osd new" 40 ceph -c "$CONF" osd new "$OSD_UUID")"
OSD_ID="${OSD_ID//[[:space:]]/}"
[[ "$OSD_ID" =~ ^[0-9]+$ ]] || fail "ceph osd new printed '$OSD_ID' instead of an OSD id"

# Monitor-only set-up, in one `ceph` process (reading commands from stdin) while
# the OSD's bluestore file is made: the pools, and a sticky mute of
# MGR_MODULE_ERROR, which the mgr raises (HEALTH_ERR) for the always-on modules
# that `mgr disabled modules` keeps from loading.
SETUP_OUT="$LOG/setup.out"
printf '%s\n' \
    "osd pool create rbd 8 8 replicated" \
    "osd pool create images 8 8 replicated" \
    "health mute MGR_MODULE_ERROR --sticky" \
    | t 40 ceph -c "$CONF" --connect-timeout 30 > "$SETUP_OUT" 2>&1 &
SETUP_PID=$!

mkdir -p -- "$DIR/osd/$OSD_ID"
run_checked "ceph-osd --mkfs" 120 ceph-osd -f -c "$CONF" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >/dev/null
supervisor start osd "$OSD_ID"
OSD_PID="$(wait_pidfile "osd.$OSD_ID")"
stratus_log "osd.$OSD_ID created and started after $(elapsed)"

setup_rc=0
wait "$SETUP_PID" || setup_rc=$?
# The interactive `ceph` exits 0 even when a command fails: check what it printed.
if (( setup_rc != 0 )) || ! grep -q "pool 'rbd' created" "$SETUP_OUT" \
        || ! grep -q "pool 'images' created" "$SETUP_OUT" || grep -q -E '^Error|Traceback' "$SETUP_OUT"; then
    fail "creating the pools failed (exit $setup_rc):"$'\n'"$(cat "$SETUP_OUT")"
fi

# Wait for the OSD to be up and in, the mgr active, and health OK or WARN.
status=""
health=""
while :; do
    for p in "$MON_PID" "$OSD_PID" "$MGR_PID"; do
        _ceph_alive "$p" || fail "a daemon (pid $p) exited during start-up"
    done
    status="$(cephq 20 -s -f json || true)"
    health="$(grep -o '"status":"HEALTH_[A-Z]*"' <<< "$status" | head -n 1 | cut -d'"' -f4 || true)"
    if grep -q '"num_up_osds":1,' <<< "$status" && grep -q '"num_in_osds":1,' <<< "$status" \
            && grep -q '"available":true' <<< "$status" \
            && [[ "$health" == HEALTH_OK || "$health" == HEALTH_WARN ]]; then
        break
    fi
    if (( DEADLINE - SECONDS <= 1 )); then
        fail "the cluster did not become ready within STRATUS_CEPH_START_TIMEOUT=${START_TIMEOUT} s (want: OSD up and in, mgr active, health OK or WARN; health is ${health:-unknown}); 'ceph -s' says:"$'\n'"$(timeout -k 2 10 ceph -c "$CONF" --connect-timeout 8 -s 2>&1 || true)"
    fi
    sleep 0.3
done
stratus_log "osd.$OSD_ID up and in, mgr active, $health after $(elapsed)"

# Initialise both pools for RBD and prove them usable (both pools at once).
probe="stratus-probe-$$"
init_pids=()
for pool in rbd images; do
    (
        run_checked "rbd pool init $pool" 60 rbd -c "$CONF" pool init "$pool" >/dev/null
        run_checked "rbd create in $pool" 30 rbd -c "$CONF" create --size 1 "$pool/$probe" >/dev/null
        run_checked "rbd rm in $pool" 30 rbd -c "$CONF" rm --no-progress "$pool/$probe" >/dev/null
    ) &
    init_pids+=($!)
done
init_failed=0
for p in "${init_pids[@]}"; do
    wait "$p" || init_failed=1
done
(( ! init_failed )) || fail "the pools are not usable (see above)"

# Hand the cluster over to its owner (or to nobody) and publish the environment.
if [[ -n "$OWNER_PID" ]]; then
    supervisor watch "$OWNER_PID" "$OWNER_START"
else
    supervisor watch - -
fi
cat > "$ENV_FILE.tmp" <<EOF
CEPH_CONF=$CONF
CEPH_FSID=$FSID
CEPH_MON_HOST=v2:127.0.0.1:$PORT
CEPH_POOL_DISKS=rbd
CEPH_POOL_IMAGES=images
CEPH_PIDS="$MON_PID $OSD_PID $MGR_PID $SUPERVISOR_PID"
EOF
mv -f -- "$ENV_FILE.tmp" "$ENV_FILE"
STARTED_OK=1
exec 4>&-
stratus_log "Ceph cluster ready in $(elapsed) (dir $DIR); stop it with $SCRIPT_DIR/ceph-down.sh $DIR"
cat -- "$ENV_FILE"
