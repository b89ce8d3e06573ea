#!/usr/bin/env bash
# Stops a throwaway Ceph cluster started by ceph-up.sh and removes its DIR:
#
#     deploy/scripts/ceph-down.sh DIR
#
# Kills (SIGKILL: the data is thrown away anyway) the cluster's daemons, found
# from DIR/env, the supervisor's DIR/run/*.pid files and any ceph-mon/ceph-osd/
# ceph-mgr process whose command line names DIR/ceph.conf (e.g. a half-done
# mkfs), waits until they are gone, stops the supervisor, then removes DIR.
# Only processes whose command line mentions DIR are touched, so other clusters
# keep running. Idempotent: a missing DIR is fine. Takes well under 2 s.
# Exit status 1 only when a process survives SIGKILL for 10 s or DIR cannot be
# removed.
#
# STRATUS_CEPH_KEEP_DIR=1 stops the processes but keeps DIR (used by ceph-up.sh
# for STRATUS_CEPH_KEEP=1).
set -uo pipefail

# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

if (( $# != 1 )) || [[ -z "$1" ]]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
DIR="$1"
[[ "$DIR" == /* ]] || DIR="$PWD/$DIR"
DIR="${DIR%/}"
[[ -n "$DIR" && "$DIR" != / ]] || stratus_die "refusing to work on '/'"

if [[ ! -e "$DIR" ]]; then
    exit 0
fi
# Never remove a directory that does not look like one of ours.
if [[ -n "$(ls -A -- "$DIR" 2>/dev/null)" && ! -e "$DIR/ceph.conf" && ! -d "$DIR/run" ]]; then
    stratus_die "$DIR does not look like a ceph-up.sh cluster directory (no ceph.conf, no run/); not touching it"
fi

# state PID : print the process state letter (R, S, D, Z...) or nothing if there is no such process.
state() {
    local stat rest
    { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 0
    rest="${stat##*) }"
    printf '%s\n' "${rest%% *}"
}

# alive PID : true while PID exists and is not a zombie (PID 1 may never reap it).
alive() {
    local s
    s="$(state "$1")"
    [[ -n "$s" && "$s" != Z && "$s" != X && "$s" != x ]]
}

# ours PID : true when PID's command line mentions DIR or a path under it
# (guards against reused pids; /tmp/c1 must not match /tmp/c10).
ours() {
    local -a args
    local a
    { mapfile -d '' -t args < "/proc/$1/cmdline"; } 2>/dev/null || return 1
    for a in "${args[@]}"; do
        [[ "$a" == "$DIR" || "$a" == "$DIR"/* ]] && return 0
    done
    return 1
}

declare -A seen=()
daemons=()
supervisors=()

add() {
    local pid="$1" kind="$2"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    (( pid != $$ && pid != 1 )) || return 0
    [[ -z "${seen[$pid]:-}" ]] || return 0
    ours "$pid" || return 0
    seen[$pid]=1
    if [[ "$kind" == supervisor ]]; then
        supervisors+=("$pid")
    else
        daemons+=("$pid")
    fi
}

# 1. pid files written by the supervisor (and the env file).
for f in "$DIR"/run/*.pid; do
    [[ -f "$f" ]] || continue
    read -r pid < "$f" || true
    if [[ "$f" == */supervisor.pid ]]; then
        add "${pid:-}" supervisor
    else
        add "${pid:-}" daemon
    fi
done
if [[ -r "$DIR/env" ]]; then
    pids_line="$(sed -n 's/^CEPH_PIDS="\{0,1\}\([0-9 ]*\)"\{0,1\}$/\1/p' "$DIR/env")"
    for pid in $pids_line; do
        # The supervisor runs bash; the daemons run ceph-*.
        if [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == */bash ]]; then
            add "$pid" supervisor
        else
            add "$pid" daemon
        fi
    done
fi
# 2. any Ceph daemon (or mkfs) on this cluster's config, and the supervisor.
for d in /proc/[0-9]*; do
    pid="${d#/proc/}"
    [[ -z "${seen[$pid]:-}" ]] || continue
    { read -r comm < "$d/comm"; } 2>/dev/null || continue
    case "$comm" in
        ceph-mon|ceph-osd|ceph-mgr)
            if { mapfile -d '' -t args < "$d/cmdline"; } 2>/dev/null && [[ " ${args[*]} " == *" $DIR/ceph.conf "* ]]; then
                add "$pid" daemon
            fi ;;
        bash)
            if { mapfile -d '' -t args < "$d/cmdline"; } 2>/dev/null \
                    && [[ "${args[*]}" == *"ceph-up.sh --supervise $DIR "* ]]; then
                add "$pid" supervisor
            fi ;;
    esac
done

# wait_gone SECONDS PID... : wait until every PID is gone or a zombie; print the survivors.
wait_gone() {
    local limit="$1" i p left
    shift
    for (( i = 0; i < limit * 50; i++ )); do
        left=()
        for p in "$@"; do
            alive "$p" && left+=("$p")
        done
        (( ${#left[@]} )) || return 0
        sleep 0.02
    done
    printf '%s\n' "${left[*]}"
}

rc=0
# 3. daemons first (the supervisor reaps them), then the supervisor.
if (( ${#daemons[@]} )); then
    kill -KILL "${daemons[@]}" 2>/dev/null || true
    survivors="$(wait_gone 10 "${daemons[@]}")"
    if [[ -n "$survivors" ]]; then
        stratus_log "ERROR: Ceph processes still alive 10 s after SIGKILL: $survivors"
        rc=1
    fi
fi
if (( ${#supervisors[@]} )); then
    # It exits by itself once its daemons are gone; TERM makes sure.
    kill -TERM "${supervisors[@]}" 2>/dev/null || true
    survivors="$(wait_gone 2 "${supervisors[@]}")"
    if [[ -n "$survivors" ]]; then
        read -r -a stubborn <<< "$survivors"
        kill -KILL "${stubborn[@]}" 2>/dev/null || true
        survivors="$(wait_gone 5 "${stubborn[@]}")"
        if [[ -n "$survivors" ]]; then
            stratus_log "ERROR: supervisor still alive after SIGKILL: $survivors"
            rc=1
        fi
    fi
fi

# 4. the files.
if [[ "${STRATUS_CEPH_KEEP_DIR:-0}" != 1 ]]; then
    if ! rm -rf -- "$DIR" 2>/dev/null; then
        # A dying daemon may still create a file; try once more.
        sleep 0.2
        rm -rf -- "$DIR" || { stratus_log "ERROR: cannot remove $DIR"; rc=1; }
    fi
fi
exit "$rc"
