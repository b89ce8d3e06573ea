#!/usr/bin/env bash
# The all-in-one Stratus launcher (like DevStack): the whole system on this
# machine, state under .aio/ at the repository root.
#
#     deploy/aio.sh up [--no-build] [--no-demo]
#     deploy/aio.sh status
#     deploy/aio.sh stop
#
# up      1. creates .aio/ (refuses while an earlier `up` is still running;
#            cleans up after one that died);
#         2. picks a JDK >= 21, makes sure Maven is there and builds the
#            services and the CLI (mvn -B -q -DskipTests install -pl ... -am)
#            when their jars are missing or older than the sources;
#         3. starts a private PostgreSQL cluster on a free loopback port (as the
#            `postgres` OS user when root; socket in .aio/pg) with database
#            `stratus`;
#         4. picks the hypervisor: qemu:///system when root and
#            deploy/scripts/libvirt-up.sh --check boots a TCG guest, else
#            libvirt's in-process test:///default driver (and says why);
#         5. makes a development CA and certificates in .aio/pki
#            (deploy/scripts/dev-ca.sh): one each for the conductor, the gateway,
#            agent `aio-host` and the user (a client certificate); starts
#            image-gateway (filesystem store in .aio/images), conductor and
#            compute-agent `aio-host` over mutual TLS, each in its own session,
#            logs in .aio/logs/NAME.log, pid in .aio/pids/NAME, and waits until
#            each is listening and the agent has registered;
#         6. writes .aio/env (`. .aio/env` sets CONDUCTOR_ADDR, GATEWAY_ADDR,
#            API_TOKEN (member), ADMIN_TOKEN, AIO_HYPERVISOR, STRATUS_CA_CERT,
#            STRATUS_CLIENT_CERT, STRATUS_CLIENT_KEY) and .aio/openrc (user demo)
#            and .aio/openrc-admin for OpenStack's clients (`. .aio/openrc &&
#            openstack server list`: Keystone, Nova and Glance REST over HTTPS);
#         7. unless --no-demo, and when deploy/cli/stratus exists: uploads a
#            small base image, boots a server, snapshots it live and lists the
#            images, then lists them again with `openstack` (installing
#            python3-openstackclient when missing and root).
#         Any failure before the demo stops everything it started.
# status  what runs, and the endpoints. Exit 0 all up, 1 partly, 3 not running.
# stop    stops the agent, conductor and gateway (SIGTERM, then SIGKILL after
#         a bound), removes the libvirt domains this run's agent created (name
#         instance-*, disk under this run's instances directory; no other
#         domain is touched), stops PostgreSQL, removes .aio/ and
#         /var/lib/stratus-aio/ID, and stops libvirtd when `up` started it and
#         no domain is left. Idempotent.
#
# Environment:
#   STRATUS_AIO_LIBVIRT_URI     force the hypervisor: test:///default, or
#                               qemu:///system (then its check must pass)
#   STRATUS_AIO_JAVA_OPTS       JVM options of the services
#                               (-Xmx512m --enable-native-access=ALL-UNNAMED)
#   STRATUS_AIO_AGENT_JAVA_OPTS more for the agent, after those
#                               (-Xmx64m -Xms16m -XX:+UseSerialGC)
#   STRATUS_AIO_START_TIMEOUT   seconds to wait for each service (120)
#   STRATUS_AIO_STOP_TIMEOUT    seconds between SIGTERM and SIGKILL (20)
#   STRATUS_AIO_KEEP_ON_FAILURE=1  leave everything running when `up` fails
#   STRATUS_AIO_CLI             the client the demo runs (deploy/cli/stratus)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
AIO="$REPO/.aio"
VAR_PARENT=/var/lib/stratus-aio
CLI="${STRATUS_AIO_CLI:-$REPO/deploy/cli/stratus}"
HOST_NAME=aio-host
START_TIMEOUT="${STRATUS_AIO_START_TIMEOUT:-120}"
STOP_TIMEOUT="${STRATUS_AIO_STOP_TIMEOUT:-20}"
JAVA_OPTS="${STRATUS_AIO_JAVA_OPTS:--Xmx512m --enable-native-access=ALL-UNNAMED}"
AGENT_JAVA_OPTS="${STRATUS_AIO_AGENT_JAVA_OPTS:--Xmx64m -Xms16m -XX:+UseSerialGC}"
# Service name -> its runnable jar (relative to the repo), in start order.
SERVICES=(gateway conductor agent)
declare -A JARS=(
    [gateway]=image-gateway/target/stratus-image-gateway.jar
    [conductor]=conductor/target/stratus-conductor.jar
    [agent]=compute-agent/target/stratus-compute-agent.jar
)
# Sources the jars are built from (freshness check).
SOURCE_DIRS=(proto support conductor image-gateway compute-agent)
CLI_MODULE=deploy/cli
CLI_JAR=deploy/cli/target/stratus.jar

# shellcheck source-path=SCRIPTDIR source=scripts/lib.sh
. "$HERE/scripts/lib.sh"

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
}

# ------------------------------------------------------------------ helpers

# Progress for the user on stdout; never fails (stdout may be a closed pipe).
say() { printf '==> %s\n' "$*" 2>/dev/null || true; }
note() { printf '    %s\n' "$*" 2>/dev/null || true; }
now_ms() { date +%s%3N; }
# since MS : "1.234 s" elapsed since MS.
since() {
    local d=$(( $(now_ms) - $1 ))
    printf '%d.%03d s' $(( d / 1000 )) $(( d % 1000 ))
}
is_root() { [[ "$(id -u)" == 0 ]]; }
# sq VALUE : VALUE in single quotes, safe for `.` in any POSIX shell.
sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# state_set KEY VALUE : remember KEY for `stop` and `status` (.aio/state).
state_set() {
    printf '%s=%s\n' "$1" "$(sq "$2")" >>"$AIO/state"
    printf -v "$1" '%s' "$2"
}

# What .aio/state may define; empty until loaded.
AIO_ID="" VARDIR="" PG_BIN="" PG_DIR="" PG_DATA="" PG_PORT="" PG_AS_POSTGRES=0
LIBVIRT_URI="" LIBVIRT_STARTED=0 HYPERVISOR_REASON="" INSTANCES_DIR="" IMAGE_CACHE_DIR=""
GATEWAY_ADDR="" CONDUCTOR_ADDR="" AGENT_ADDR="" MEMBER_TOKEN="" ADMIN_TOKEN=""
METRICS_GATEWAY="" METRICS_CONDUCTOR="" METRICS_AGENT=""
KEYSTONE_PORT="" NOVA_PORT="" GLANCE_PORT="" OS_DEMO_PASSWORD="" OS_ADMIN_PASSWORD=""
load_state() {
    if [[ -r "$AIO/state" ]]; then
        # shellcheck source=/dev/null
        . "$AIO/state"
    fi
}

# live_pid PIDFILE MARKER : print the pid in PIDFILE when that process lives
# (not a zombie) and its command line contains MARKER (a reused pid is not ours).
live_pid() {
    local pid
    [[ -r "$1" ]] || return 1
    pid="$(head -n 1 "$1" 2>/dev/null | tr -dc '0-9')"
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
    if grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
        return 1
    fi
    printf '%s\n' "$pid"
}

# marker NAME : what the command line of service NAME contains.
marker() {
    case "$1" in
        up) printf 'aio.sh' ;;
        *) basename "${JARS[$1]}" ;;
    esac
}

# pg_pid : the postmaster's pid when our cluster runs.
pg_pid() {
    [[ -n "$PG_DATA" ]] || return 1
    live_pid "$PG_DATA/postmaster.pid" postgres
}

# anything_running : true when a process of this .aio/ lives (prints them).
anything_running() {
    local name pid found=1
    for name in up "${SERVICES[@]}"; do
        if pid="$(live_pid "$AIO/pids/$name" "$(marker "$name")")"; then
            printf '%s (pid %s)\n' "$name" "$pid"
            found=0
        fi
    done
    if pid="$(pg_pid)"; then
        printf 'postgres (pid %s)\n' "$pid"
        found=0
    fi
    return "$found"
}

# as_pg CMD... : run CMD as the cluster's owner (postgres when we are root).
as_pg() {
    if (( PG_AS_POSTGRES )); then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# free_port : a TCP port nothing listens on at 127.0.0.1 right now.
free_port() {
    local i p
    for ((i = 0; i < 100; i++)); do
        p=$(( 20000 + RANDOM % 30000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            printf '%s\n' "$p"
            return 0
        fi
    done
    return 1
}

# show_log FILE [LINES] : the last lines of FILE on stderr.
show_log() {
    if [[ -s "$1" ]]; then
        printf -- '--- last %s lines of %s ---\n' "${2:-30}" "$1" >&2
        tail -n "${2:-30}" "$1" >&2
        printf -- '---\n' >&2
    fi
}

virsh_q() { timeout --kill-after=5 30 virsh -q -c qemu:///system "$@"; }
libvirtd_answers() {
    command -v virsh >/dev/null 2>&1 \
        && timeout --kill-after=2 10 virsh -c qemu:///system version >/dev/null 2>&1
}

# ------------------------------------------------------------------- stop

# stop_service NAME : SIGTERM its process group, up to STOP_TIMEOUT s, SIGKILL.
stop_service() {
    local name="$1" pidfile="$AIO/pids/$1" mark pid target i
    mark="$(marker "$name")"
    if ! pid="$(live_pid "$pidfile" "$mark")"; then
        rm -f "$pidfile"
        return 0
    fi
    # Each service runs in its own session (setsid): signal the whole group, so
    # helpers it spawned (qemu-img...) go too.
    target="$pid"
    if [[ "$(awk '{print $5}' "/proc/$pid/stat" 2>/dev/null)" == "$pid" ]]; then
        target="-$pid"
    fi
    kill -TERM -- "$target" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        live_pid "$pidfile" "$mark" >/dev/null || break
        sleep 0.1
    done
    if live_pid "$pidfile" "$mark" >/dev/null; then
        note "$name (pid $pid) ignored SIGTERM for $STOP_TIMEOUT s: SIGKILL"
        kill -KILL -- "$target" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            live_pid "$pidfile" "$mark" >/dev/null || break
            sleep 0.1
        done
    fi
    if [[ "$target" == -* ]]; then
        pkill -KILL -g "$pid" 2>/dev/null || true
    fi
    if live_pid "$pidfile" "$mark" >/dev/null; then
        stratus_log "ERROR: $name (pid $pid) is still alive after SIGKILL"
        return 1
    fi
    note "stopped $name (pid $pid)"
    rm -f "$pidfile"
}

# remove_domains : destroy + undefine the instance-* domains whose disks live
# under this run's instances directory. Never touches any other domain.
remove_domains() {
    [[ "$LIBVIRT_URI" == qemu:///system && -n "$INSTANCES_DIR" ]] || return 0
    if ! libvirtd_answers; then
        note "libvirtd does not answer on qemu:///system: no domains to remove"
        return 0
    fi
    local names name disk ours failed=0
    names="$(virsh_q list --all --name 2>/dev/null)" || names=""
    while IFS= read -r name; do
        [[ "$name" == instance-* ]] || continue
        ours=0
        while IFS= read -r disk; do
            [[ "$disk" == "$INSTANCES_DIR"/* ]] && ours=1
        done < <({ virsh_q domblklist --details "$name" 2>/dev/null
                   virsh_q domblklist --inactive --details "$name" 2>/dev/null; } | awk '{print $4}')
        (( ours )) || continue
        virsh_q destroy "$name" >/dev/null 2>&1 || true
        virsh_q undefine --managed-save --snapshots-metadata --checkpoints-metadata --nvram \
            "$name" >/dev/null 2>&1 || virsh_q undefine "$name" >/dev/null 2>&1 || true
        if virsh_q domstate "$name" >/dev/null 2>&1; then
            stratus_log "ERROR: could not remove domain $name"
            failed=1
        else
            rm -f "/var/log/libvirt/qemu/$name.log"
            note "removed libvirt domain $name"
        fi
    done <<<"$names"
    return "$failed"
}

stop_postgres() {
    local pid
    [[ -n "$PG_DATA" ]] || return 0
    if ! pid="$(pg_pid)"; then
        return 0
    fi
    if ! STRATUS_PG_BIN="$PG_BIN" "$HERE/scripts/pg-cluster.sh" stop "$(dirname "$PG_DATA")" fast; then
        stratus_log "ERROR: postgres (pid $pid) is still alive"
        return 1
    fi
    note "stopped PostgreSQL (pid $pid, port $PG_PORT)"
}

# stop_libvirtd : only when `up` started it, and no domain at all is left.
stop_libvirtd() {
    (( LIBVIRT_STARTED )) || return 0
    libvirtd_answers || return 0
    local left
    left="$(virsh_q list --all --name 2>/dev/null | grep -c . || true)"
    if (( left > 0 )); then
        note "leaving libvirtd running: $left other domain(s) exist"
        return 0
    fi
    if "$HERE/scripts/libvirt-down.sh" >/dev/null 2>&1; then
        note "stopped libvirtd and virtlogd (started by up)"
    else
        stratus_log "WARNING: deploy/scripts/libvirt-down.sh failed"
    fi
}

# do_stop : tear down everything .aio/state records. Returns 1 if something
# could not be stopped (then .aio/ is kept so `stop` can be retried).
do_stop() {
    local failed=0 name pid i
    load_state
    # An `up` still in progress tears down what it started itself on SIGTERM.
    if [[ "$$" != "$(head -n 1 "$AIO/pids/up" 2>/dev/null || true)" ]] \
            && pid="$(live_pid "$AIO/pids/up" "$(marker up)")"; then
        note "interrupting the running 'up' (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 600; i++)); do
            live_pid "$AIO/pids/up" "$(marker up)" >/dev/null || break
            sleep 0.1
        done
        load_state
    fi
    for name in agent conductor gateway; do
        stop_service "$name" || failed=1
    done
    remove_domains || failed=1
    stop_postgres || failed=1
    stop_libvirtd || true
    if (( failed )); then
        stratus_log "ERROR: something could not be stopped; kept $AIO (run stop again)"
        return 1
    fi
    if [[ -n "$VARDIR" && "$VARDIR" == "$VAR_PARENT"/aio-* && -d "$VARDIR" ]]; then
        rm -rf -- "$VARDIR"
        note "removed $VARDIR"
        rmdir "$VAR_PARENT" 2>/dev/null || true
    fi
    if [[ -d "$AIO" ]]; then
        rm -rf -- "$AIO"
        note "removed $AIO"
    fi
    return 0
}

cmd_stop() {
    if [[ ! -d "$AIO" ]]; then
        say "nothing to stop ($AIO does not exist)"
        return 0
    fi
    local t0
    t0="$(now_ms)"
    say "stopping the all-in-one system in $AIO"
    do_stop || exit 1
    say "stopped in $(since "$t0")"
}

# ------------------------------------------------------------------ status

cmd_status() {
    if [[ ! -d "$AIO" ]]; then
        say "not running (no $AIO)"
        return 3
    fi
    load_state
    local name pid up=0 total=0 addr
    say "all-in-one ${AIO_ID:-?} ($AIO)"
    for name in gateway conductor agent; do
        total=$(( total + 1 ))
        case "$name" in
            gateway) addr="$GATEWAY_ADDR" ;;
            conductor) addr="$CONDUCTOR_ADDR" ;;
            agent) addr="$AGENT_ADDR" ;;
        esac
        if pid="$(live_pid "$AIO/pids/$name" "$(marker "$name")")"; then
            up=$(( up + 1 ))
            printf '    %-10s up    pid %-8s %s\n' "$name" "$pid" "${addr:-}"
        else
            printf '    %-10s DOWN  %s\n' "$name" "(log: $AIO/logs/$name.log)"
        fi
    done
    total=$(( total + 1 ))
    if pid="$(pg_pid)"; then
        up=$(( up + 1 ))
        printf '    %-10s up    pid %-8s 127.0.0.1:%s db stratus (socket dir %s)\n' postgres "$pid" "$PG_PORT" "$PG_DIR"
    else
        printf '    %-10s DOWN\n' postgres
    fi
    if pid="$(live_pid "$AIO/pids/up" "$(marker up)")"; then
        note "'up' is still running (pid $pid)"
    fi
    note "hypervisor: ${LIBVIRT_URI:-?} (${HYPERVISOR_REASON:-})"
    if [[ -n "$INSTANCES_DIR" ]]; then
        note "instances:  $INSTANCES_DIR"
    fi
    if [[ -f "$AIO/env" ]]; then
        note "client env: . $AIO/env"
    fi
    if (( up == total )); then
        return 0
    elif (( up == 0 )); then
        return 3
    fi
    return 1
}

# -------------------------------------------------------------------- up

UP_DONE=0
on_up_exit() {
    local rc=$?
    trap - EXIT INT TERM HUP
    # Tear down whatever happens (a closed stdout must not cut it short).
    set +e
    if (( rc != 0 && ! UP_DONE )); then
        if [[ "${STRATUS_AIO_KEEP_ON_FAILURE:-0}" == 1 ]]; then
            stratus_log "up failed; STRATUS_AIO_KEEP_ON_FAILURE=1: leaving everything running (deploy/aio.sh stop)"
            rm -f "$AIO/pids/up"
        else
            say "up failed: stopping everything it started"
            do_stop || true
        fi
    fi
    exit "$rc"
}

# stale JAR DIR... : true when JAR (or its lib/) is missing or older than a
# pom or a main source file of the root or of one of the module DIRs.
stale() {
    local jar="$REPO/$1" d srcs=("$REPO/pom.xml")
    shift
    [[ -f "$jar" && -d "$(dirname "$jar")/lib" ]] || return 0
    for d in "$@"; do
        [[ -e "$REPO/$d/pom.xml" ]] && srcs+=("$REPO/$d/pom.xml")
        [[ -d "$REPO/$d/src/main" ]] && srcs+=("$REPO/$d/src/main")
    done
    [[ -n "$(find "${srcs[@]}" -newer "$jar" -type f -print -quit 2>/dev/null)" ]]
}

# mvn_install MODULES : build MODULES (comma-separated) and what they need.
mvn_install() {
    (cd "$REPO" && mvn -B -q -DskipTests install -pl "$1" -am) >"$AIO/logs/build.log" 2>&1
}

step_build() {
    local t0 log="$AIO/logs/build.log" svc need=0 cli=0 modules
    t0="$(now_ms)"
    stratus_pick_java || stratus_die "no JDK >= $STRATUS_MIN_JAVA found"
    if ! command -v mvn >/dev/null 2>&1; then
        stratus_ensure_apt maven || stratus_die "Maven is required (apt-get install maven)"
    fi
    say "2. java: ${JAVA_HOME:-$(command -v java)}"
    for svc in "${SERVICES[@]}"; do
        if stale "${JARS[$svc]}" "${SOURCE_DIRS[@]}"; then
            need=1
        fi
    done
    # The command-line client (deploy/cli) is built too when it is there; the
    # system comes up without it (the demo is then skipped).
    if [[ -f "$REPO/$CLI_MODULE/pom.xml" ]] && stale "$CLI_JAR" proto "$CLI_MODULE"; then
        need=1
        cli=1
    fi
    modules="$(IFS=,; printf '%s' "${SOURCE_DIRS[*]:2}")"
    if (( NO_BUILD )); then
        note "--no-build: using the jars as they are"
    elif (( need )); then
        note "building the jars: mvn -B -q -DskipTests install -pl $modules$( (( cli )) && printf ',%s' "$CLI_MODULE") -am (log $log)"
        if (( cli )) && ! mvn_install "$modules,$CLI_MODULE"; then
            show_log "$log" 15
            stratus_log "WARNING: the build with the command-line client ($CLI_MODULE) failed (above); building the services alone"
            cli=0
        fi
        if (( ! cli )) && ! mvn_install "$modules"; then
            show_log "$log" 40
            stratus_die "the build failed (log above, in full in $log)"
        fi
        note "built in $(since "$t0")"
    else
        note "jars are up to date"
    fi
    for svc in "${SERVICES[@]}"; do
        [[ -f "$REPO/${JARS[$svc]}" ]] || stratus_die "$REPO/${JARS[$svc]} is missing (build without --no-build)"
    done
}

# make_vardir : /var/lib/stratus-aio/aio-ID, for what must live outside the repo.
make_vardir() {
    [[ -z "$VARDIR" ]] || return 0
    mkdir -p "$VAR_PARENT"
    chmod 755 "$VAR_PARENT"
    mkdir -m 755 "$VAR_PARENT/aio-$AIO_ID"
    state_set VARDIR "$VAR_PARENT/aio-$AIO_ID"
}

step_postgres() {
    local t0 attempt port log
    t0="$(now_ms)"
    PG_BIN="$("$HERE/scripts/ensure-postgres.sh")" || stratus_die "PostgreSQL is not available"
    state_set PG_BIN "$PG_BIN"
    if is_root; then
        state_set PG_AS_POSTGRES 1
    fi
    # The cluster's directory: .aio/pg, owned by its OS user. When that user
    # cannot reach it (a repo under /root...) or the socket path would be too
    # long, /var/lib/stratus-aio/aio-ID/pg instead.
    local dir="$AIO/pg"
    mkdir -m 700 "$dir"
    if (( PG_AS_POSTGRES )); then
        chown postgres: "$dir"
    fi
    if (( ${#dir} > 90 )) || ! as_pg test -w "$dir"; then
        rmdir "$dir"
        make_vardir
        dir="$VARDIR/pg"
        mkdir -m 700 "$dir"
        if (( PG_AS_POSTGRES )); then
            chown postgres: "$dir"
        fi
        note "the postgres user cannot use $AIO/pg: cluster in $dir"
    fi
    state_set PG_DIR "$dir"
    state_set PG_DATA "$dir/data"
    log="$dir/postgres.log"
    # the same start-up as the tests' clusters (testkit PostgresCluster)
    if ! STRATUS_PG_BIN="$PG_BIN" "$HERE/scripts/pg-cluster.sh" init "$dir" >"$AIO/logs/initdb.log" 2>&1; then
        show_log "$AIO/logs/initdb.log"
        stratus_die "initdb failed"
    fi
    ln -sf "$log" "$AIO/logs/postgres.log"
    local rc
    for ((attempt = 1; ; attempt++)); do
        port="$(free_port)" || stratus_die "no free TCP port found"
        state_set PG_PORT "$port"
        rc=0
        STRATUS_PG_BIN="$PG_BIN" "$HERE/scripts/pg-cluster.sh" start "$dir" "$port" \
            2>"$AIO/logs/pg-start.log" || rc=$?
        (( rc == 0 )) && break
        if (( rc == 3 && attempt < 5 )); then
            note "port $port was taken meanwhile; trying another"
            continue
        fi
        show_log "$AIO/logs/pg-start.log"
        stratus_die "PostgreSQL did not start"
    done
    as_pg "$PG_BIN/createdb" -h "$dir" -p "$PG_PORT" -U stratus stratus \
        || stratus_die "createdb stratus failed"
    say "3. PostgreSQL $(basename "$(dirname "$PG_BIN")") on 127.0.0.1:$PG_PORT, database stratus, data $PG_DATA ($(since "$t0"))"
}

step_hypervisor() {
    local t0 log="$AIO/logs/libvirt-up.log" uri reason answered=0
    t0="$(now_ms)"
    uri="${STRATUS_AIO_LIBVIRT_URI:-}"
    case "$uri" in
        "" | qemu:///system | test:///default) ;;
        *) stratus_die "STRATUS_AIO_LIBVIRT_URI must be qemu:///system or test:///default, got '$uri'" ;;
    esac
    if [[ "$uri" == test:///default ]]; then
        reason="forced by STRATUS_AIO_LIBVIRT_URI"
    elif ! is_root; then
        [[ -z "$uri" ]] || stratus_die "qemu:///system needs root (libvirtd, and handing directories to libvirt-qemu)"
        uri=test:///default
        reason="not root: real guests need root to run libvirtd and hand directories to libvirt-qemu"
    else
        libvirtd_answers && answered=1
        note "checking libvirt + qemu: deploy/scripts/libvirt-up.sh --check (log $log)"
        if "$HERE/scripts/libvirt-up.sh" --check >/dev/null 2>"$log"; then
            uri=qemu:///system
            reason="libvirt-up.sh --check booted a TCG guest"
        elif [[ "$uri" == qemu:///system ]]; then
            show_log "$log"
            stratus_die "STRATUS_AIO_LIBVIRT_URI=qemu:///system but libvirt-up.sh --check failed"
        else
            uri=test:///default
            reason="libvirt-up.sh --check failed: $(grep -v '^---' "$log" | tail -n 1)"
        fi
        if (( ! answered )) && libvirtd_answers; then
            state_set LIBVIRT_STARTED 1
        fi
    fi
    state_set LIBVIRT_URI "$uri"
    state_set HYPERVISOR_REASON "$reason"
    if [[ "$uri" == qemu:///system ]]; then
        # qemu runs as libvirt-qemu: disks and base images must be under a
        # directory it can search, which a repo (under /root...) may not be.
        make_vardir
        local d
        for d in instances image-cache; do
            mkdir -m 770 "$VARDIR/$d"
            chown libvirt-qemu:libvirt-qemu "$VARDIR/$d"
        done
        state_set INSTANCES_DIR "$VARDIR/instances"
        state_set IMAGE_CACHE_DIR "$VARDIR/image-cache"
        say "4. hypervisor: qemu:///system - real qemu guests under TCG ($reason; $(since "$t0"))"
    else
        mkdir -p "$AIO/instances" "$AIO/image-cache"
        state_set INSTANCES_DIR "$AIO/instances"
        state_set IMAGE_CACHE_DIR "$AIO/image-cache"
        say "4. hypervisor: test:///default - libvirt's in-process test driver, no real guests ($reason)"
    fi
    note "instances in $INSTANCES_DIR, image cache in $IMAGE_CACHE_DIR"
}

# start_service NAME VAR=VALUE... : start NAME in its own session and wait for
# its "listening on HOST:PORT" line; sets LISTEN_ADDR.
LISTEN_ADDR=""
start_service() {
    local name="$1" jar log pid t0 deadline line java=java
    shift
    jar="$REPO/${JARS[$name]}"
    log="$AIO/logs/$name.log"
    if [[ -n "${JAVA_HOME:-}" ]]; then
        java="$JAVA_HOME/bin/java"
    fi
    t0="$(now_ms)"
    # shellcheck disable=SC2086 # JAVA_OPTS is a list of options
    local extra="" arenas=""
    if [[ "$name" == agent ]]; then
        # The agent's memory is its read window (pooled direct buffers), not the disk's
        # size: a small heap (live set ~30 MiB) with the serial collector (G1's own
        # structures cost ~40 MiB on such a heap) and two malloc arenas keep its RSS flat
        # and under 300 MiB whatever it snapshots.
        extra="$AGENT_JAVA_OPTS"
        arenas="MALLOC_ARENA_MAX=2"
    fi
    # shellcheck disable=SC2086 # JAVA_OPTS is a list of options
    (cd "$AIO" && exec env "$@" $arenas setsid "$java" $JAVA_OPTS $extra -jar "$jar" </dev/null >"$log" 2>&1) &
    pid=$!
    printf '%s\n' "$pid" >"$AIO/pids/$name"
    deadline=$(( t0 + START_TIMEOUT * 1000 ))
    while :; do
        line="$(grep -m 1 ' listening on ' "$log" 2>/dev/null || true)"
        if [[ -n "$line" ]]; then
            LISTEN_ADDR="${line##* listening on }"
            break
        fi
        if ! live_pid "$AIO/pids/$name" "$(marker "$name")" >/dev/null; then
            show_log "$log"
            stratus_die "$name exited during start-up (log above)"
        fi
        if (( $(now_ms) > deadline )); then
            show_log "$log"
            stratus_die "$name did not print 'listening on' within $START_TIMEOUT s"
        fi
        sleep 0.2
    done
    LISTEN_ADDR="${LISTEN_ADDR//[[:space:]]/}"
    note "$name listening on $LISTEN_ADDR (pid $pid, $(since "$t0"), log $log)"
}

step_services() {
    local t0 member admin
    t0="$(now_ms)"
    say "5. starting the services"
    mkdir -p "$AIO/images"
    local pki="$AIO/pki" ca="$AIO/pki/ca.pem"
    "$HERE/scripts/dev-ca.sh" init "$pki" >/dev/null
    "$HERE/scripts/dev-ca.sh" issue "$pki" gateway gateway localhost 127.0.0.1 >/dev/null
    "$HERE/scripts/dev-ca.sh" issue "$pki" conductor conductor localhost 127.0.0.1 >/dev/null
    "$HERE/scripts/dev-ca.sh" issue "$pki" agent "$HOST_NAME" 127.0.0.1 >/dev/null
    "$HERE/scripts/dev-ca.sh" issue "$pki" client aio-user >/dev/null
    note "mutual TLS: development CA and certificates in $pki"
    # The gateway asks the conductor about users' tokens: the conductor's port is chosen
    # now so the gateway (started first) knows it.
    local conductor_port m port
    conductor_port="$(free_port)" || stratus_die "no free TCP port found"
    # each service's Prometheus endpoint (http://127.0.0.1:PORT/metrics)
    for m in GATEWAY CONDUCTOR AGENT; do
        port="$(free_port)" || stratus_die "no free TCP port found"
        state_set "METRICS_$m" "$port"
    done
    # OpenStack's REST APIs (Keystone and Nova on the conductor, Glance on the gateway)
    for m in KEYSTONE NOVA GLANCE; do
        port="$(free_port)" || stratus_die "no free TCP port found"
        state_set "${m}_PORT" "$port"
    done
    state_set OS_DEMO_PASSWORD "demo-$(rand_hex 12)"
    state_set OS_ADMIN_PASSWORD "admin-$(rand_hex 12)"
    start_service gateway \
        STRATUS_GATEWAY_OPENSTACK_IMAGE_PORT="$GLANCE_PORT" \
        STRATUS_GATEWAY_METRICS_PORT="$METRICS_GATEWAY" \
        STRATUS_GATEWAY_IDENTITY_ADDRESS="127.0.0.1:$conductor_port" \
        STRATUS_GATEWAY_TLS_CA="$ca" STRATUS_GATEWAY_TLS_CERT="$pki/gateway.pem" \
        STRATUS_GATEWAY_TLS_KEY="$pki/gateway.key" \
        STRATUS_GATEWAY_LISTEN_HOST=127.0.0.1 STRATUS_GATEWAY_PORT=0 \
        STRATUS_GATEWAY_BACKEND=filesystem STRATUS_GATEWAY_FS_DIR="$AIO/images"
    state_set GATEWAY_ADDR "$LISTEN_ADDR"

    member="aio-member-$(rand_hex 16)"
    admin="aio-admin-$(rand_hex 16)"
    state_set MEMBER_TOKEN "$member"
    state_set ADMIN_TOKEN "$admin"
    start_service conductor \
        STRATUS_CONDUCTOR_METRICS_PORT="$METRICS_CONDUCTOR" \
        STRATUS_CONDUCTOR_TLS_CA="$ca" STRATUS_CONDUCTOR_TLS_CERT="$pki/conductor.pem" \
        STRATUS_CONDUCTOR_TLS_KEY="$pki/conductor.key" \
        STRATUS_CONDUCTOR_LISTEN_HOST=127.0.0.1 STRATUS_CONDUCTOR_PORT="$conductor_port" \
        STRATUS_CONDUCTOR_DB_URL="jdbc:postgresql://127.0.0.1:$PG_PORT/stratus" \
        STRATUS_CONDUCTOR_DB_USER=stratus STRATUS_CONDUCTOR_DB_PASSWORD= \
        STRATUS_CONDUCTOR_GATEWAY_ADDRESS="$GATEWAY_ADDR" \
        STRATUS_CONDUCTOR_HEARTBEAT_INTERVAL=PT2S \
        STRATUS_CONDUCTOR_OPENSTACK_IDENTITY_PORT="$KEYSTONE_PORT" \
        STRATUS_CONDUCTOR_OPENSTACK_COMPUTE_PORT="$NOVA_PORT" \
        STRATUS_CONDUCTOR_OPENSTACK_IMAGE_URL="https://127.0.0.1:$GLANCE_PORT" \
        STRATUS_CONDUCTOR_OPENSTACK_USERS="demo:demo:member:$OS_DEMO_PASSWORD,admin:admin:admin:$OS_ADMIN_PASSWORD" \
        STRATUS_CONDUCTOR_API_TOKENS="$admin=admin:admin:admin,$member=demo:demo:member"
    state_set CONDUCTOR_ADDR "$LISTEN_ADDR"

    start_service agent \
        STRATUS_AGENT_METRICS_PORT="$METRICS_AGENT" \
        STRATUS_AGENT_TLS_CA="$ca" STRATUS_AGENT_TLS_CERT="$pki/$HOST_NAME.pem" \
        STRATUS_AGENT_TLS_KEY="$pki/$HOST_NAME.key" \
        STRATUS_AGENT_HOST="$HOST_NAME" STRATUS_AGENT_LISTEN_HOST=127.0.0.1 STRATUS_AGENT_PORT=0 \
        STRATUS_AGENT_CONDUCTOR_ADDRESS="$CONDUCTOR_ADDR" \
        STRATUS_AGENT_GATEWAY_ADDRESS="$GATEWAY_ADDR" \
        STRATUS_AGENT_LIBVIRT_URI="$LIBVIRT_URI" \
        STRATUS_AGENT_INSTANCES_DIR="$INSTANCES_DIR" \
        STRATUS_AGENT_IMAGE_CACHE_DIR="$IMAGE_CACHE_DIR"
    state_set AGENT_ADDR "$LISTEN_ADDR"

    # The agent registers with the conductor right after start-up.
    local deadline=$(( $(now_ms) + 60000 ))
    until grep -q "host registered.*host=$HOST_NAME\b" "$AIO/logs/conductor.log" 2>/dev/null; do
        if (( $(now_ms) > deadline )); then
            show_log "$AIO/logs/agent.log"
            show_log "$AIO/logs/conductor.log"
            stratus_die "compute host $HOST_NAME did not register with the conductor within 60 s"
        fi
        live_pid "$AIO/pids/agent" "$(marker agent)" >/dev/null || {
            show_log "$AIO/logs/agent.log"
            stratus_die "the compute-agent exited"
        }
        sleep 0.2
    done
    note "compute host $HOST_NAME registered with the conductor"
    note "services up in $(since "$t0")"
}

step_env() {
    {
        printf '# Stratus all-in-one %s; load it with: . %s (deploy/aio.sh stop removes it)\n' "$AIO_ID" "$AIO/env"
        printf 'CONDUCTOR_ADDR=%s\n' "$(sq "$CONDUCTOR_ADDR")"
        printf 'GATEWAY_ADDR=%s\n' "$(sq "$GATEWAY_ADDR")"
        printf 'API_TOKEN=%s\n' "$(sq "$MEMBER_TOKEN")"
        printf 'ADMIN_TOKEN=%s\n' "$(sq "$ADMIN_TOKEN")"
        printf 'AIO_HYPERVISOR=%s\n' "$(sq "$LIBVIRT_URI")"
        printf 'STRATUS_CA_CERT=%s\n' "$(sq "$AIO/pki/ca.pem")"
        printf 'STRATUS_CLIENT_CERT=%s\n' "$(sq "$AIO/pki/aio-user.pem")"
        printf 'STRATUS_CLIENT_KEY=%s\n' "$(sq "$AIO/pki/aio-user.key")"
        printf 'export CONDUCTOR_ADDR GATEWAY_ADDR API_TOKEN ADMIN_TOKEN AIO_HYPERVISOR\n'
        printf 'export STRATUS_CA_CERT STRATUS_CLIENT_CERT STRATUS_CLIENT_KEY\n'
    } >"$AIO/env.tmp"
    chmod 600 "$AIO/env.tmp"
    mv -f "$AIO/env.tmp" "$AIO/env"
    write_openrc "$AIO/openrc" demo "$OS_DEMO_PASSWORD" demo
    write_openrc "$AIO/openrc-admin" admin "$OS_ADMIN_PASSWORD" admin
    say "6. endpoints (also in $AIO/env)"
    note "conductor (public API)  $CONDUCTOR_ADDR   tokens: member \$API_TOKEN (project demo), admin \$ADMIN_TOKEN"
    note "image-gateway           $GATEWAY_ADDR"
    note "compute-agent $HOST_NAME  $AGENT_ADDR   hypervisor $LIBVIRT_URI"
    note "postgresql              127.0.0.1:$PG_PORT/stratus (user stratus, trust)"
    note "TLS                     CA \$STRATUS_CA_CERT, your certificate \$STRATUS_CLIENT_CERT (key \$STRATUS_CLIENT_KEY)"
    note "OpenStack APIs (HTTPS)  keystone https://127.0.0.1:$KEYSTONE_PORT/v3," \
        "nova https://127.0.0.1:$NOVA_PORT/v2.1, glance https://127.0.0.1:$GLANCE_PORT"
    note "                        . $AIO/openrc && openstack server list   (admin: $AIO/openrc-admin)"
    note "logs                    $AIO/logs/"
    note "metrics (Prometheus)    conductor http://127.0.0.1:$METRICS_CONDUCTOR/metrics," \
        "gateway http://127.0.0.1:$METRICS_GATEWAY/metrics, agent http://127.0.0.1:$METRICS_AGENT/metrics"
}

# write_openrc FILE USER PASSWORD PROJECT : what `openstack` and `glance` need to reach
# this all-in-one's Keystone as USER.
write_openrc() {
    {
        printf '# Stratus all-in-one %s: OpenStack clients as %s; load it with: . %s\n' "$AIO_ID" "$2" "$1"
        printf 'export OS_AUTH_URL=%s\n' "$(sq "https://127.0.0.1:$KEYSTONE_PORT/v3")"
        printf 'export OS_USERNAME=%s\n' "$(sq "$2")"
        printf 'export OS_PASSWORD=%s\n' "$(sq "$3")"
        printf 'export OS_PROJECT_NAME=%s\n' "$(sq "$4")"
        printf 'export OS_USER_DOMAIN_NAME=Default\n'
        printf 'export OS_PROJECT_DOMAIN_NAME=Default\n'
        printf 'export OS_IDENTITY_API_VERSION=3\n'
        printf 'export OS_REGION_NAME=RegionOne\n'
        printf 'export OS_CACERT=%s\n' "$(sq "$AIO/pki/ca.pem")"
    } >"$1.tmp"
    chmod 600 "$1.tmp"
    mv -f "$1.tmp" "$1"
}

# id_row : the value of the "id" row of a `show`-style table on stdin.
id_row() { awk '$1 == "id" && NF >= 2 { print $2; exit }'; }
# first_uuid : the first UUID on stdin.
first_uuid() {
    grep -Eo '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' | head -n 1 || true
}
# line_with NAME : the first line of stdin with a whitespace-separated field NAME.
line_with() {
    awk -v n="$1" '{ for (i = 1; i <= NF; i++) if ($i == n) { print; exit } }'
}
stratus() { "$CLI" "$@"; }

step_demo() {
    if (( NO_DEMO )); then
        say "7. demo skipped (--no-demo)"
        return 0
    fi
    if [[ ! -x "$CLI" ]]; then
        say "7. demo skipped: the command-line client deploy/cli/stratus is not there (yet)"
        note "the system is up; talk to it with grpcurl or the CLI once it exists"
        return 0
    fi
    local t0 ts out img srv deadline base="$AIO/demo/base.raw"
    t0="$(now_ms)"
    # shellcheck source=/dev/null
    . "$AIO/env"
    say "7. demo: boot a server and snapshot it live (CLI: $CLI)"

    note "\$ stratus host list   (admin)"
    deadline=$(( $(now_ms) + 60000 ))
    until out="$(API_TOKEN="$ADMIN_TOKEN" stratus host list 2>"$AIO/logs/cli.err")" \
            && grep -w -- "$HOST_NAME" <<<"$out" | grep -qiw up; do
        if (( $(now_ms) > deadline )); then
            printf '%s\n' "$out"
            cat "$AIO/logs/cli.err" >&2
            stratus_log "host $HOST_NAME is not up in 'stratus host list' after 60 s"
            return 1
        fi
        sleep 1
    done
    printf '%s\n' "$out"

    ts="$(now_ms)"
    mkdir -p "$AIO/demo"
    head -c 8M /dev/urandom >"$base"
    truncate -s 64M "$base"
    note "\$ stratus image upload --name aio-base --file $base   (64 MiB raw, 8 MiB of data)"
    out="$(stratus image upload --name aio-base --file "$base")" || { printf '%s\n' "$out"; stratus_log "image upload failed"; return 1; }
    printf '%s\n' "$out"
    img="$(id_row <<<"$out")"
    [[ -n "$img" ]] || img="$(first_uuid <<<"$out")"
    if [[ -z "$img" ]]; then
        img="$(stratus image list | line_with aio-base | first_uuid)"
    fi
    [[ -n "$img" ]] || { stratus_log "cannot find the id of image aio-base"; return 1; }
    note "base image $img uploaded in $(since "$ts")"

    ts="$(now_ms)"
    note "\$ stratus server create --image $img --flavor-vcpus 1 --flavor-ram 128 --wait aio-demo"
    out="$(stratus server create --image "$img" --flavor-vcpus 1 --flavor-ram 128 --wait aio-demo)" \
        || { printf '%s\n' "$out"; stratus_log "server create failed"; return 1; }
    printf '%s\n' "$out"
    srv="$(id_row <<<"$out")"
    [[ -n "$srv" ]] || srv="$(stratus server list | line_with aio-demo | first_uuid)"
    [[ -n "$srv" ]] || srv="$(grep -v -- "$img" <<<"$out" | first_uuid)"
    [[ -n "$srv" ]] || { stratus_log "cannot find the id of server aio-demo"; return 1; }
    note "server $srv active in $(since "$ts")"

    ts="$(now_ms)"
    note "\$ stratus server image create $srv --name aio-demo-snap --wait"
    stratus server image create "$srv" --name aio-demo-snap --wait || { stratus_log "snapshot failed"; return 1; }
    note "snapshot done in $(since "$ts")"

    note "\$ stratus image list"
    stratus image list
    note "\$ stratus server list"
    stratus server list
    # the same system through OpenStack's own client and the REST APIs
    if command -v openstack >/dev/null 2>&1 \
        || stratus_ensure_apt python3-openstackclient python3-glanceclient; then
        note "\$ . $AIO/openrc && openstack server list && openstack image list"
        ( . "$AIO/openrc" && openstack server list && openstack image list ) \
            || { stratus_log "the openstack client failed against the REST APIs"; return 1; }
    else
        stratus_log "WARNING: python3-openstackclient could not be installed: the OpenStack" \
            "client demo is skipped (. $AIO/openrc works once it is installed)"
    fi
    rm -f "$base"
    say "demo done in $(since "$t0"): uploaded base image aio-base ($img), booted server aio-demo ($srv)" \
        "on $LIBVIRT_URI, snapshotted it while running into image aio-demo-snap"
}

cmd_up() {
    local t0 running line
    t0="$(now_ms)"
    if [[ -d "$AIO" ]]; then
        load_state
        if running="$(anything_running)"; then
            stratus_log "an all-in-one system from an earlier 'up' is still running in $AIO:"
            while IFS= read -r line; do note "$line"; done <<<"$running" >&2
            stratus_die "stop it first: deploy/aio.sh stop"
        fi
        say "cleaning up what an earlier run left in $AIO (nothing of it runs)"
        do_stop || stratus_die "could not clean up $AIO; see above"
        # do_stop loaded the old run's state: start afresh.
        AIO_ID="" VARDIR="" PG_DATA="" PG_PORT="" PG_AS_POSTGRES=0 LIBVIRT_STARTED=0
    fi
    # mkdir is atomic: of two concurrent `up`s only one gets here.
    mkdir "$AIO" 2>/dev/null || stratus_die "$AIO appeared meanwhile: another 'up' is starting"
    mkdir "$AIO/logs" "$AIO/pids"
    printf '%s\n' "$$" >"$AIO/pids/up"
    trap on_up_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    # A closed stdout (`up | head`) fails the write, and so `up`, instead of
    # killing it before it can clean up.
    trap '' PIPE
    state_set AIO_ID "$(date +%Y%m%d-%H%M%S)-$(rand_hex 3)"
    say "1. state in $AIO (id $AIO_ID)"

    step_build
    step_postgres
    step_hypervisor
    step_services
    step_env
    rm -f "$AIO/pids/up"
    UP_DONE=1
    trap - EXIT INT TERM HUP
    say "up in $(since "$t0"): . $AIO/env   |   deploy/aio.sh status   |   deploy/aio.sh stop"
    if ! step_demo; then
        stratus_log "the demo failed (the system stays up; deploy/aio.sh stop tears it down)"
        exit 1
    fi
    say "all done in $(since "$t0")"
}

# --------------------------------------------------------------------- main

NO_BUILD=0
NO_DEMO=0
cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    up)
        for arg in "$@"; do
            case "$arg" in
                --no-build) NO_BUILD=1 ;;
                --no-demo) NO_DEMO=1 ;;
                *) usage; stratus_die "unknown option for up: $arg" ;;
            esac
        done
        cmd_up
        ;;
    stop | status)
        [[ $# -eq 0 ]] || { usage; stratus_die "$cmd takes no arguments"; }
        "cmd_$cmd"
        ;;
    -h | --help | help) usage ;;
    *) usage; stratus_die "unknown command '${cmd}': use up, status or stop" ;;
esac
