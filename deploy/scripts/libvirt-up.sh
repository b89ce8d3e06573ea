#!/usr/bin/env bash
# Makes a system libvirtd with the qemu driver (guests under TCG, no KVM
# needed) available on this machine, then prints its URI on stdout
# (diagnostics go to stderr):
#
#     eval "$(deploy/scripts/libvirt-up.sh)"     # sets LIBVIRT_URI=qemu:///system
#     deploy/scripts/libvirt-up.sh --check        # ... and boots a throwaway guest
#
# Built for a Debian (bookworm) machine without systemd, as root:
#   1. installs the missing packages (libvirt-daemon, libvirt-daemon-driver-qemu,
#      libvirt-clients, qemu-system-x86, qemu-utils, qemu-block-extra (rbd disks), libnbd-bin, tini) without
#      libvirt-daemon-system (which needs systemd). While apt runs, a
#      /usr/sbin/policy-rc.d that denies every service start is put in place if
#      there is none (and removed again), and apt waits up to 10 min for the
#      dpkg lock instead of failing when another installer holds it;
#   2. if `virsh -c qemu:///system version` already answers, only verifies
#      (nothing is created, changed or started);
#   3. otherwise creates the `kvm` and `libvirt-qemu` groups and the
#      `libvirt-qemu` system user (member of `kvm`) that qemu runs as, and the
#      /var/{log,lib,cache}/libvirt directories libvirt-daemon-system would
#      have made; writes a marked block into /etc/libvirt/qemu.conf (creating
#      the file, which only libvirt-daemon-system ships; see
#      STRATUS_QEMU_CONF_BLOCK below); starts `virtlogd -d` unless it runs, then
#      `tini -s -- /usr/sbin/libvirtd` in the background (tini reaps the qemu
#      processes libvirt daemonizes; without it they linger as zombies and
#      `virsh destroy` is ~5x slower) and waits until it answers;
#   4. with --check: defines nothing persistent, starts a transient minimal
#      guest (128 MiB, SeaBIOS, a 64 MiB qcow2 disk on virtio, no OS) named
#      stratus-test-check-*, checks `virsh domstate` = running, destroys it and
#      removes its files and qemu log. The guest is destroyed on every exit
#      path, including errors, SIGINT and SIGTERM (not SIGKILL: then
#      libvirt-down.sh removes it, as it removes every stratus-test-* domain).
#
# Idempotent: run it as often as you like; a second run is a ~0.2 s check.
# Concurrent runs are serialised by a lock: exactly one starts the daemons.
# Pid files of what this script started are kept in $STRATUS_RUN_DIR
# (default /run/stratus); deploy/scripts/libvirt-down.sh stops exactly those.
#
# Environment:
#   STRATUS_RUN_DIR                 pid files, lock and logs   (/run/stratus)
#   STRATUS_LIBVIRT_START_TIMEOUT   seconds to wait for libvirtd (90)
#   STRATUS_LIBVIRT_SCRATCH         parent dir of --check's files (/var/lib/stratus-test)
#
# Exit status: 0 ready (and with --check: a guest ran), 1 on any failure
# (with the reason, and the daemon log tail when it did not come up, on stderr).
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LIBVIRT_URI="qemu:///system"
RUN_DIR="${STRATUS_RUN_DIR:-/run/stratus}"
START_TIMEOUT="${STRATUS_LIBVIRT_START_TIMEOUT:-90}"
SCRATCH_PARENT="${STRATUS_LIBVIRT_SCRATCH:-/var/lib/stratus-test}"
QEMU_CONF=/etc/libvirt/qemu.conf
QEMU_USER=libvirt-qemu
QEMU_GROUP=libvirt-qemu
DAEMON_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PACKAGES=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils qemu-block-extra libnbd-bin tini)

# What this script pins in qemu.conf, between the BEGIN/END markers.
#   user/group: qemu runs as libvirt-qemu:libvirt-qemu (the Debian default,
#       pinned so the scratch dirs the testkit hands over match it).
#   dynamic_ownership = 1: libvirt chowns each disk/NVRAM/socket path to
#       libvirt-qemu while the guest runs (the default, pinned). Parent
#       directories are NOT chowned: they must be searchable by libvirt-qemu
#       (Libvirt.scratchDir() takes care of that for tests).
#   remember_owner = 0: do not record the original owner in trusted.libvirt.*
#       xattrs. With it on (default), a libvirtd or qemu killed mid-run leaves
#       stale xattr refcounts behind, after which the files are silently no
#       longer restored or relabelling fails "already in use"; with it off the
#       files go back to root:root when the guest stops - always the same.
#   stdio_handler = "logd": guest console/stderr logs through virtlogd
#       (the default, pinned because this script starts virtlogd for it).
STRATUS_QEMU_CONF_BLOCK='user = "libvirt-qemu"
group = "libvirt-qemu"
dynamic_ownership = 1
remember_owner = 0
stdio_handler = "logd"'
CONF_BEGIN="# BEGIN stratus (deploy/scripts/libvirt-up.sh; edited on every daemon start)"
CONF_END="# END stratus"

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
}

CHECK=0
for arg in "$@"; do
    case "$arg" in
        --check) CHECK=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage; stratus_die "unknown argument: $arg" ;;
    esac
done

now_ms() { date +%s%3N; }

# virsh_q ARGS... : virsh against the system URI, bounded to 30 s.
virsh_q() {
    timeout --kill-after=5 30 virsh -q -c "$LIBVIRT_URI" "$@"
}

libvirtd_answers() {
    command -v virsh >/dev/null 2>&1 || return 1
    timeout --kill-after=2 10 virsh -c "$LIBVIRT_URI" version >/dev/null 2>&1
}

# pid_alive PIDFILE NAME : true when PIDFILE names a live process whose
# command line mentions NAME (guards against reused pids).
pid_alive() {
    local pid
    [[ -r "$1" ]] || return 1
    pid="$(tr -dc '0-9' <"$1")"
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2"
}

# ------------------------------------------------------------------ packages

POLICY_RC=/usr/sbin/policy-rc.d
POLICY_MARK="# stratus libvirt-up.sh temporary policy-rc.d"
APT_CONF_TMP=""
cleanup_install() {
    if [[ -f "$POLICY_RC" ]] && grep -qF "$POLICY_MARK" "$POLICY_RC" 2>/dev/null; then
        rm -f "$POLICY_RC"
    fi
    if [[ -n "$APT_CONF_TMP" ]]; then
        rm -f "$APT_CONF_TMP"
    fi
}

install_packages() {
    local pkg missing=()
    for pkg in "${PACKAGES[@]}"; do
        if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]]; then
            missing+=("$pkg")
        fi
    done
    (( ${#missing[@]} )) || return 0

    local started rc=0
    started="$(now_ms)"
    trap cleanup_install EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    # No service may be started by a postinst here (no init system to run
    # it; and we start libvirtd ourselves). Debian-based container images
    # usually ship a policy-rc.d that says "101: denied"; add one if not.
    if [[ "$(id -u)" == 0 && ! -e "$POLICY_RC" ]]; then
        printf '#!/bin/sh\n%s\nexit 101\n' "$POLICY_MARK" >"$POLICY_RC"
        chmod 755 "$POLICY_RC"
        stratus_log "temporary $POLICY_RC (deny service starts) in place during the install"
    fi
    # apt-get (unlike apt) fails at once when another dpkg/apt holds the lock;
    # other deploy scripts may be installing at the same time: wait instead.
    APT_CONF_TMP="$(mktemp /tmp/stratus-apt-conf.XXXXXX)"
    {
        [[ -r /etc/apt/apt.conf ]] && printf '#include "/etc/apt/apt.conf";\n'
        printf 'DPkg::Lock::Timeout "600";\n'
    } >"$APT_CONF_TMP"
    APT_CONFIG="$APT_CONF_TMP" stratus_ensure_apt "${missing[@]}" || rc=$?
    cleanup_install
    trap - EXIT INT TERM
    (( rc == 0 )) || stratus_die "could not install: ${missing[*]}"
    stratus_log "installed ${missing[*]} in $(( $(now_ms) - started )) ms"
}

# ------------------------------------------------------- users, groups, conf

ensure_users() {
    if ! getent group kvm >/dev/null; then
        stratus_log "creating group kvm"
        groupadd --system kvm
    fi
    if ! getent group "$QEMU_GROUP" >/dev/null; then
        stratus_log "creating group $QEMU_GROUP"
        groupadd --system "$QEMU_GROUP"
    fi
    if ! getent passwd "$QEMU_USER" >/dev/null; then
        stratus_log "creating user $QEMU_USER (groups $QEMU_GROUP, kvm)"
        useradd --system --gid "$QEMU_GROUP" --groups kvm --home-dir /var/lib/libvirt \
            --no-create-home --shell /usr/sbin/nologin --comment "Libvirt Qemu" "$QEMU_USER"
    elif ! id -nG "$QEMU_USER" | tr ' ' '\n' | grep -qx kvm; then
        stratus_log "adding user $QEMU_USER to group kvm"
        usermod -a -G kvm "$QEMU_USER"
    fi
}

# The directories libvirt-daemon-system would have created (libvirtd and
# virtlogd create their /run ones themselves but fail without /var/log/libvirt).
ensure_dirs() {
    local dir
    for dir in /var/log/libvirt/qemu /var/lib/libvirt/qemu /var/lib/libvirt/images /var/cache/libvirt/qemu; do
        if [[ ! -d "$dir" ]]; then
            stratus_log "creating $dir"
            mkdir -p "$dir"
        fi
    done
    # As in Debian: qemu's per-domain state (monitor sockets, ...) lives here.
    chown "$QEMU_USER:$QEMU_GROUP" /var/lib/libvirt/qemu
    chmod 751 /var/lib/libvirt/qemu
}

ensure_qemu_conf() {
    local keys tmp created=0
    if [[ ! -e "$QEMU_CONF" ]]; then
        created=1
        # Debian ships qemu.conf in libvirt-daemon-system (not installed here:
        # it needs systemd); without the file libvirtd uses built-in defaults.
        mkdir -p "$(dirname "$QEMU_CONF")"
        {
            printf '# Master configuration file for the QEMU driver of libvirtd.\n'
            printf '# Created by Stratus deploy/scripts/libvirt-up.sh because no package\n'
            printf '# provided one (Debian ships it in libvirt-daemon-system). Every setting\n'
            printf '# not listed here has its built-in default; see qemu.conf(5).\n'
        } >"$QEMU_CONF"
        chmod 600 "$QEMU_CONF"
        stratus_log "created $QEMU_CONF (no package provides it here)"
    fi
    keys="$(printf '%s\n' "$STRATUS_QEMU_CONF_BLOCK" | sed -n 's/^\([a-z_]*\) *=.*/\1/p' | paste -sd'|')"
    tmp="$(mktemp "$QEMU_CONF.stratus.XXXXXX")"
    # Drop our previous block, comment out active settings of the same keys
    # elsewhere (libvirt takes the first occurrence), append the block.
    awk -v end="$CONF_END" -v keys="^(${keys}) *=" '
        index($0, "# BEGIN stratus") == 1 { skip = 1; next }
        skip && $0 == end { skip = 0; next }
        skip { next }
        $0 ~ keys { print "#" $0 " # disabled by stratus libvirt-up.sh"; next }
        { print }
    ' "$QEMU_CONF" >"$tmp"
    # Strip trailing blank lines, then append the block.
    sed -i -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$tmp"
    printf '\n%s\n%s\n%s\n' "$CONF_BEGIN" "$STRATUS_QEMU_CONF_BLOCK" "$CONF_END" >>"$tmp"
    if cmp -s "$tmp" "$QEMU_CONF"; then
        rm -f "$tmp"
        return 0
    fi
    if (( ! created )) && [[ ! -e "$QEMU_CONF.stratus-orig" ]]; then
        cp -p "$QEMU_CONF" "$QEMU_CONF.stratus-orig"
    fi
    chmod --reference="$QEMU_CONF" "$tmp"
    chown --reference="$QEMU_CONF" "$tmp"
    mv -f "$tmp" "$QEMU_CONF"
    stratus_log "set in $QEMU_CONF: $(printf '%s' "$STRATUS_QEMU_CONF_BLOCK" | paste -sd';')$( (( created )) || printf ' (original kept as %s)' "$QEMU_CONF.stratus-orig")"
}

# ----------------------------------------------------------------- daemons

tail_log() {
    if [[ -s "$1" ]]; then
        printf '%s\n' "--- last lines of $1 ---"
        tail -n 30 "$1"
    fi
}

start_virtlogd() {
    # Already running (ours or not)? virtlogd keeps /run/virtlogd.pid locked.
    if pid_alive /run/virtlogd.pid virtlogd; then
        return 0
    fi
    local log="$RUN_DIR/virtlogd.log" i
    stratus_log "starting virtlogd"
    : >"$log"
    (cd / && exec env -i PATH="$DAEMON_PATH" virtlogd -d </dev/null >>"$log" 2>&1 9>&-) || {
        tail_log "$log" >&2
        stratus_die "virtlogd -d failed"
    }
    for ((i = 0; i < 50; i++)); do
        if pid_alive /run/virtlogd.pid virtlogd; then
            cp /run/virtlogd.pid "$RUN_DIR/virtlogd.pid"
            return 0
        fi
        sleep 0.1
    done
    tail_log "$log" >&2
    stratus_die "virtlogd did not write a live /run/virtlogd.pid within 5 s"
}

start_libvirtd() {
    local log="$RUN_DIR/libvirtd.log" tini_pid started deadline
    if pid_alive "$RUN_DIR/libvirtd.pid" tini; then
        stratus_log "libvirtd started earlier (tini pid $(cat "$RUN_DIR/libvirtd.pid")) does not answer yet; waiting"
        tini_pid="$(cat "$RUN_DIR/libvirtd.pid")"
    elif pid_alive /run/libvirtd.pid libvirtd; then
        stratus_die "a libvirtd (pid $(cat /run/libvirtd.pid)) runs but $LIBVIRT_URI does not answer; not started by this script, so not touching it"
    else
        stratus_log "starting libvirtd (tini -s -- /usr/sbin/libvirtd; log $log)"
        : >"$log"
        # setsid + all stdio to the log: the daemon must not hold the caller's
        # pipes open (a JVM reading this script's output would block forever),
        # nor our lock (fd 9), which would then stay taken for its lifetime.
        # A clean environment, as an init system would give it: qemu inherits
        # it, and it must not depend on who ran this script (a Maven JVM...).
        (cd / && umask 022 && exec env -i PATH="$DAEMON_PATH" setsid tini -s -- /usr/sbin/libvirtd \
            </dev/null >>"$log" 2>&1 9>&-) &
        tini_pid=$!
        printf '%s\n' "$tini_pid" >"$RUN_DIR/libvirtd.pid"
    fi
    started="$(now_ms)"
    deadline=$(( started + START_TIMEOUT * 1000 ))
    while ! libvirtd_answers; do
        if [[ ! -d "/proc/$tini_pid" ]] || grep -q '^State:.*Z' "/proc/$tini_pid/status" 2>/dev/null; then
            rm -f "$RUN_DIR/libvirtd.pid"
            tail_log "$log" >&2
            stratus_die "libvirtd exited during start-up (see the log above)"
        fi
        if (( $(now_ms) > deadline )); then
            tail_log "$log" >&2
            stratus_die "libvirtd (tini pid $tini_pid) did not answer on $LIBVIRT_URI within ${START_TIMEOUT} s;" \
                "it is left running - stop it with deploy/scripts/libvirt-down.sh"
        fi
        sleep 0.2
    done
    stratus_log "libvirtd answers on $LIBVIRT_URI after $(( $(now_ms) - started )) ms"
    # Record libvirtd's own pid too, so libvirt-down.sh can stop it even if
    # tini is gone.
    local daemon_pid
    daemon_pid="$(tr -dc '0-9' </run/libvirtd.pid 2>/dev/null)" || daemon_pid=""
    if [[ -n "$daemon_pid" && "$(awk '{print $4}' "/proc/$daemon_pid/stat" 2>/dev/null)" == "$tini_pid" ]]; then
        printf '%s\n' "$daemon_pid" >"$RUN_DIR/libvirtd.daemon.pid"
    fi
}

# -------------------------------------------------------------------- check

CHECK_DIR=""
CHECK_DOMAIN=""
cleanup_check() {
    if [[ -n "$CHECK_DOMAIN" ]]; then
        if virsh_q domstate "$CHECK_DOMAIN" >/dev/null 2>&1; then
            virsh_q destroy "$CHECK_DOMAIN" >/dev/null 2>&1 || true
            # A transient domain vanishes with destroy; undefine covers the
            # case where someone made it persistent meanwhile.
            virsh_q undefine "$CHECK_DOMAIN" >/dev/null 2>&1 || true
        fi
        if ! virsh_q domstate "$CHECK_DOMAIN" >/dev/null 2>&1; then
            rm -f "/var/log/libvirt/qemu/$CHECK_DOMAIN.log"
        fi
        CHECK_DOMAIN=""
    fi
    if [[ -n "$CHECK_DIR" ]]; then
        rm -rf -- "$CHECK_DIR"
        CHECK_DIR=""
    fi
}

check_guest() {
    command -v qemu-img >/dev/null || stratus_die "qemu-img is missing (package qemu-utils)"
    mkdir -p "$SCRATCH_PARENT"
    chmod 755 "$SCRATCH_PARENT"
    trap cleanup_check EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    CHECK_DIR="$(mktemp -d "$SCRATCH_PARENT/libvirt-check.XXXXXX")"
    # qemu (libvirt-qemu) must search the directory; libvirt chowns the disk.
    chown "$QEMU_USER:$QEMU_GROUP" "$CHECK_DIR"
    chmod 770 "$CHECK_DIR"
    local disk="$CHECK_DIR/disk.qcow2" xml="$CHECK_DIR/domain.xml" t0 t1 t2 t3 state="" i out
    qemu-img create -q -f qcow2 "$disk" 64M >&2 || stratus_die "qemu-img create $disk failed"
    CHECK_DOMAIN="stratus-test-check-$$-$RANDOM"
    cat >"$xml" <<EOF
<domain type='qemu'>
  <name>$CHECK_DOMAIN</name>
  <memory unit='MiB'>128</memory>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$disk'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOF
    t0="$(now_ms)"
    out="$(virsh_q create "$xml" 2>&1)" || stratus_die "virsh create of a minimal TCG guest failed: $out"
    t1="$(now_ms)"
    for ((i = 0; i < 100; i++)); do
        state="$(virsh_q domstate "$CHECK_DOMAIN" 2>&1)" || true
        [[ "$state" == running ]] && break
        sleep 0.1
    done
    [[ "$state" == running ]] || stratus_die "guest $CHECK_DOMAIN is '$state', not running, 10 s after start"
    t2="$(now_ms)"
    out="$(virsh_q destroy "$CHECK_DOMAIN" 2>&1)" || stratus_die "virsh destroy $CHECK_DOMAIN failed: $out"
    t3="$(now_ms)"
    if virsh_q domstate "$CHECK_DOMAIN" >/dev/null 2>&1; then
        stratus_die "transient guest $CHECK_DOMAIN still exists after destroy"
    fi
    rm -f "/var/log/libvirt/qemu/$CHECK_DOMAIN.log"
    CHECK_DOMAIN=""
    cleanup_check
    trap - EXIT INT TERM
    stratus_log "check passed: TCG guest created in $((t1 - t0)) ms, running after $((t2 - t0)) ms, destroyed in $((t3 - t2)) ms"
}

# --------------------------------------------------------------------- main

install_packages
for tool in virsh libvirtd virtlogd tini qemu-system-x86_64 qemu-img; do
    command -v "$tool" >/dev/null 2>&1 || stratus_die "$tool not found on PATH after installing ${PACKAGES[*]}"
done

if libvirtd_answers; then
    stratus_log "libvirtd already answers on $LIBVIRT_URI; only verifying"
else
    [[ "$(id -u)" == 0 ]] || stratus_die "no libvirtd answers on $LIBVIRT_URI and starting one needs root"
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/libvirt-up.lock"
    # Serialise concurrent callers (e.g. parallel test JVMs): one starts it,
    # the others find it answering.
    if ! flock -w 300 9; then
        stratus_die "could not lock $RUN_DIR/libvirt-up.lock within 300 s"
    fi
    if ! libvirtd_answers; then
        ensure_users
        ensure_dirs
        ensure_qemu_conf
        start_virtlogd
        start_libvirtd
    fi
    exec 9>&-
fi

# Verify: the qemu driver is there and can run x86_64 guests under TCG.
caps="$(virsh_q capabilities 2>&1)" || stratus_die "virsh capabilities failed: $caps"
grep -q "<domain type='qemu'" <<<"$caps" || grep -q '<domain type="qemu"' <<<"$caps" \
    || stratus_die "libvirt on $LIBVIRT_URI offers no x86_64 'qemu' (TCG) domain type; is qemu-system-x86 installed?"

if (( CHECK )); then
    check_guest
fi

printf 'LIBVIRT_URI=%s\n' "$LIBVIRT_URI"
