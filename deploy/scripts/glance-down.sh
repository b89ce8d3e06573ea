#!/usr/bin/env bash
# Stops a Glance started by glance-up.sh and removes its directory:
#
#     deploy/scripts/glance-down.sh DIR
#
# Sends SIGTERM to glance-api's process group (glance-up.sh starts it with
# setsid, so the group id is its pid) and to any other process whose command
# line names DIR/glance-api.conf (e.g. a helper that started its own session),
# waits up to GLANCE_STOP_TIMEOUT seconds (default 15) for all of them to exit,
# then sends SIGKILL and waits up to 10 s more. Zombies count as gone, but as
# glance-api's parent is init once glance-up.sh has exited, the script then
# waits up to GLANCE_REAP_WAIT seconds (default 3; 0 = don't) for init to reap
# them, so `pgrep glance` shows nothing afterwards. Then removes DIR.
#
# Idempotent: a missing DIR, a missing or stale pid file, or an already
# stopped Glance are fine (exit 0). Exits 1, keeping DIR, if a process
# survives SIGKILL or DIR cannot be removed.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STOP_TIMEOUT="${GLANCE_STOP_TIMEOUT:-15}"
REAP_WAIT="${GLANCE_REAP_WAIT:-3}"
readonly KILL_TIMEOUT=10

if (( $# != 1 )) || [[ -z "$1" ]]; then
    printf 'usage: %s DIR\n' "$(basename "$0")" >&2
    exit 2
fi
[[ "$STOP_TIMEOUT" =~ ^[0-9]+$ ]] || stratus_die "GLANCE_STOP_TIMEOUT must be a number of seconds"
[[ "$REAP_WAIT" =~ ^[0-9]+$ ]] || stratus_die "GLANCE_REAP_WAIT must be a number of seconds"

if [[ ! -e "$1" ]]; then
    exit 0
fi
[[ -d "$1" ]] || stratus_die "$1 is not a directory"
DIR="$(cd -- "$1" && pwd -P)" || stratus_die "cannot enter $1"
case "$DIR" in
    / | /tmp | /var | /var/tmp | /usr | /etc | /root | /home | "$HOME")
        stratus_die "refusing to remove $DIR" ;;
esac
CONF="$DIR/glance-api.conf"

# _stat PID : sets stat_state and stat_pgid from /proc/PID/stat (no fork);
# false when PID is gone.
stat_state=""
stat_pgid=""
_stat() {
    local line rest
    stat_state=""
    stat_pgid=""
    read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    rest="${line##*) }"   # the command name may contain spaces and ')'
    read -r stat_state _ stat_pgid _ <<<"$rest" || true
    [[ -n "$stat_state" ]]
}

# _alive PID : true when PID exists and is not a zombie.
_alive() {
    _stat "$1" && [[ "$stat_state" != Z && "$stat_state" != X ]]
}

# Process groups to signal (only groups led by one of our processes) and
# single processes, recomputed on every pass so nothing forked meanwhile is
# missed. Ours = a live process whose command line names $CONF.
groups=()
pids=()
_collect() {
    local pid f pgid
    local -A seen=()
    groups=()
    pids=()
    while IFS= read -r f; do
        pid="${f#/proc/}"
        pid="${pid%/cmdline}"
        [[ "$pid" =~ ^[0-9]+$ && "$pid" != "$$" && "$pid" != "$BASHPID" ]] || continue
        if _alive "$pid"; then
            seen[$pid]=1
            if [[ "$stat_pgid" == "$pid" ]]; then
                groups+=("$pid")
            fi
        fi
    # The pattern comes from a file so grep's own command line does not match.
    done < <(grep -l -s -a -F -f <(printf '%s\n' "$CONF") /proc/[0-9]*/cmdline 2>/dev/null || true)
    # Anything left in our groups (children that kept the group).
    for pgid in "${known_groups[@]}"; do
        for pid in $(pgrep -g "$pgid" 2>/dev/null || true); do
            if _alive "$pid"; then
                seen[$pid]=1
            fi
        done
    done
    pids=("${!seen[@]}")
}

_signal_all() {
    local sig="$1" g p
    for g in "${groups[@]}"; do
        kill "-$sig" -- "-$g" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        kill "-$sig" "$p" 2>/dev/null || true
    done
}

# _wait_gone SECONDS : true once nothing of ours is alive.
_wait_gone() {
    local deadline=$((SECONDS + $1))
    while :; do
        _collect
        (( ${#pids[@]} == 0 )) && return 0
        (( SECONDS >= deadline )) && return 1
        sleep 0.1
    done
}

recorded_pid=""
for f in "$DIR/glance-api.pid" "$DIR/env"; do
    [[ -r "$f" ]] || continue
    if [[ "$f" == */env ]]; then
        candidate="$(sed -n 's/^GLANCE_PID=\([0-9]*\)$/\1/p' "$f" | head -n 1)"
    else
        candidate="$(head -n 1 -- "$f" | tr -d '[:space:]')"
    fi
    if [[ "$candidate" =~ ^[0-9]+$ ]]; then
        recorded_pid="$candidate"
        break
    fi
done

known_groups=()
# The recorded pid leads glance-api's process group (setsid); if it is still
# alive and ours, keep signalling that group even after its leader is gone.
if [[ -n "$recorded_pid" ]] && _alive "$recorded_pid" && [[ "$stat_pgid" == "$recorded_pid" ]] \
    && grep -q -s -a -F -- "$CONF" "/proc/$recorded_pid/cmdline"; then
    known_groups+=("$recorded_pid")
fi
_collect
known_groups+=("${groups[@]}")

if (( ${#pids[@]} > 0 )); then
    started=$SECONDS
    stopped=("${pids[@]}")
    stratus_log "stopping Glance in $DIR (pids ${pids[*]})"
    _signal_all TERM
    if ! _wait_gone "$STOP_TIMEOUT"; then
        stratus_log "Glance did not exit within $STOP_TIMEOUT s after SIGTERM; sending SIGKILL to ${pids[*]}"
        _signal_all KILL
        if ! _wait_gone "$KILL_TIMEOUT"; then
            stratus_die "processes ${pids[*]} of the Glance in $DIR survived SIGKILL; keeping $DIR"
        fi
    fi
    # glance-up.sh's shell has exited, so glance-api's parent is init (or a
    # subreaper), which may reap only every second or two: until then it shows
    # up as "[glance-api] <defunct>" in ps/pgrep. Wait a little for that so
    # callers checking "nothing left" see nothing; harmless if it times out.
    deadline=$((SECONDS + REAP_WAIT))
    for p in "${stopped[@]}"; do
        while _stat "$p" && [[ "$stat_state" == Z ]] && (( SECONDS < deadline )); do
            sleep 0.1
        done
    done
    stratus_log "Glance in $DIR stopped in $((SECONDS - started)) s"
fi

rm -rf -- "$DIR" || stratus_die "cannot remove $DIR"
[[ ! -e "$DIR" ]] || stratus_die "cannot remove $DIR"
exit 0
