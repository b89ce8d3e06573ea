#!/usr/bin/env bash
# Undoes deploy/scripts/libvirt-up.sh at run time:
#   1. if a libvirtd answers on qemu:///system (started by us or not), destroys
#      and undefines every domain whose name starts with `stratus-test-`
#      (managed-save images, snapshot and checkpoint metadata included; disk
#      files are left alone) and deletes the qemu logs of such domains
#      (/var/log/libvirt/qemu/stratus-test-*.log);
#   2. stops the libvirtd and virtlogd that libvirt-up.sh started, as recorded
#      in its pid files ($STRATUS_RUN_DIR, default /run/stratus): SIGTERM,
#      up to 20 s for a clean exit, then SIGKILL. Daemons it did not start
#      are never touched.
#
# Other domains are not destroyed: as with any libvirtd stop, their qemu
# processes keep running and the next libvirtd re-attaches to them.
# Packages, users/groups and the qemu.conf block stay (see libvirt-up.sh).
#
# Idempotent: with nothing to do it exits 0 at once. Exit status 1 only when
# a test domain could not be removed or a daemon would not die.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LIBVIRT_URI="qemu:///system"
RUN_DIR="${STRATUS_RUN_DIR:-/run/stratus}"
TEST_PREFIX="stratus-test-"
failed=0

case "${1:-}" in
    "") ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) stratus_die "unknown argument: $1 (try --help)" ;;
esac

virsh_q() {
    timeout --kill-after=5 30 virsh -q -c "$LIBVIRT_URI" "$@"
}

# live_pid PIDFILE NAME : print the pid in PIDFILE if that process lives and
# its command line mentions NAME (a reused pid is not ours to kill).
live_pid() {
    local pid
    [[ -r "$1" ]] || return 1
    pid="$(tr -dc '0-9' <"$1")"
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2" || return 1
    # A zombie is as good as gone.
    if grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
        return 1
    fi
    printf '%s\n' "$pid"
}

# stop_pid PIDFILE NAME : SIGTERM, wait up to 20 s, SIGKILL; removes PIDFILE.
stop_pid() {
    local pidfile="$1" name="$2" pid i
    if ! pid="$(live_pid "$pidfile" "$name")"; then
        rm -f "$pidfile"
        return 0
    fi
    stratus_log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        live_pid "$pidfile" "$name" >/dev/null || { rm -f "$pidfile"; return 0; }
        sleep 0.1
    done
    stratus_log "$name (pid $pid) ignored SIGTERM for 20 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        live_pid "$pidfile" "$name" >/dev/null || { rm -f "$pidfile"; return 0; }
        sleep 0.1
    done
    stratus_log "ERROR: $name (pid $pid) is still alive after SIGKILL"
    failed=1
}

# 1. test domains
if command -v virsh >/dev/null 2>&1 \
        && timeout --kill-after=2 10 virsh -c "$LIBVIRT_URI" version >/dev/null 2>&1; then
    names="$(virsh_q list --all --name 2>/dev/null)" || names=""
    while IFS= read -r name; do
        [[ "$name" == "$TEST_PREFIX"* ]] || continue
        stratus_log "removing test domain $name"
        virsh_q destroy "$name" >/dev/null 2>&1 || true
        virsh_q undefine --managed-save --snapshots-metadata --checkpoints-metadata --nvram \
            "$name" >/dev/null 2>&1 \
            || virsh_q undefine "$name" >/dev/null 2>&1 || true
        if virsh_q domstate "$name" >/dev/null 2>&1; then
            stratus_log "ERROR: could not remove domain $name"
            failed=1
        fi
    done <<<"$names"
    # The qemu logs of test domains that no longer exist (one per name; the
    # tests use random names, so they would pile up).
    for log in /var/log/libvirt/qemu/"$TEST_PREFIX"*.log; do
        [[ -e "$log" ]] || continue
        name="$(basename "$log" .log)"
        virsh_q domstate "$name" >/dev/null 2>&1 || rm -f "$log"
    done
fi

# 2. the daemons libvirt-up.sh started: libvirtd itself (its tini parent
# exits with it), then tini in case it did not, then virtlogd.
stop_pid "$RUN_DIR/libvirtd.daemon.pid" /usr/sbin/libvirtd
stop_pid "$RUN_DIR/libvirtd.pid" tini
stop_pid "$RUN_DIR/virtlogd.pid" virtlogd

exit "$failed"
