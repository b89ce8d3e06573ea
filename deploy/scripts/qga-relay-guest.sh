#!/usr/bin/env bash
# Builds the kernel and initramfs of the "qga relay guest" into DIR, then
# prints their paths on stdout (diagnostics go to stderr):
#
#     eval "$(deploy/scripts/qga-relay-guest.sh /var/lib/stratus-test/relay-guest)"
#     # sets RELAY_KERNEL=DIR/vmlinuz and RELAY_INITRD=DIR/initrd.gz
#
# The relay guest is a tiny Linux TCG guest (Debian cloud kernel + busybox
# initramfs, nothing else) that lets a test's host-side stub play qemu-ga:
# its /init opens the guest-agent port org.qemu.guest_agent.0 (which makes
# libvirt see the agent as connected) and copies bytes both ways between it
# and a second virtio-serial port named stub.relay, whose host side the domain
# XML points at the stub's unix socket (mode='connect'). So virsh domfsfreeze,
# virDomainFSFreeze and --quiesce snapshots really reach the stub:
#   libvirtd -> qemu agent chardev -> guest vport (org.qemu.guest_agent.0)
#            -> busybox cat -> guest vport (stub.relay) -> qemu -> stub socket
# The guest prints "relay ready" on its serial console once both ports are
# open (~7 s after start under TCG); it also mounts /dev/vda on /mnt when that
# holds a file system. See testkit RelayGuest.java / QgaStub.java.
#
# Steps (nothing is installed on this machine):
#   1. resolves the metapackage linux-image-cloud-amd64 to the concrete
#      linux-image-*-cloud-amd64 package (apt-cache depends), then
#      `apt-get download`s it and busybox-static into a temporary directory;
#      `apt-get update` runs only when that fails (no or stale package lists);
#   2. `dpkg-deb -x` both; copies boot/vmlinuz-* to DIR/vmlinuz;
#   3. writes DIR/initrd.gz, a gzipped newc cpio (written by a small python3
#      script: there is no cpio binary here) holding busybox, /init and the
#      virtio modules (virtio virtio_ring virtio_pci_legacy_dev
#      virtio_pci_modern_dev virtio_pci virtio_console virtio_blk; .ko.xz and
#      .ko.zst are decompressed, built-in ones skipped);
#   4. writes DIR/.version last.
#
# Cached and idempotent: when DIR/vmlinuz, DIR/initrd.gz and a DIR/.version
# whose first line is "$RELAY_GUEST_VERSION" exist, it only prints the paths
# (~10 ms). Bump RELAY_GUEST_VERSION below whenever the initramfs recipe
# changes. Concurrent runs on the same DIR are serialised by DIR/.lock; the
# files are replaced atomically. DIR and its files are made world-readable
# (mode 0755/0644) so qemu, running as libvirt-qemu, can read them.
#
# Environment:
#   STRATUS_RELAY_KERNEL_PKG   kernel package to use instead of resolving
#                              linux-image-cloud-amd64 (e.g. linux-image-6.1.0-50-cloud-amd64)
#   STRATUS_RELAY_TIMEOUT      seconds allowed for each download (600)
#
# Exit status: 0 with the two paths printed, 1 on any failure (with the
# reason on stderr).
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=guest-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/guest-lib.sh"

RELAY_GUEST_VERSION="stratus-qga-relay-guest 1"
KERNEL_META=linux-image-cloud-amd64
BUSYBOX_PKG="busybox-static"
MODULES=(virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_console virtio_blk)
DOWNLOAD_TIMEOUT="${STRATUS_RELAY_TIMEOUT:-600}"
LOCK_TIMEOUT=900

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
}

guest_dir_arg "$@"
DIR="$GUEST_DIR"
KERNEL="$DIR/vmlinuz"
INITRD="$DIR/initrd.gz"
STAMP="$DIR/.version"

now_ms() { date +%s%3N; }

print_paths() {
    printf 'RELAY_KERNEL=%s\nRELAY_INITRD=%s\n' "$KERNEL" "$INITRD"
}

up_to_date() {
    [[ -s "$KERNEL" && -s "$INITRD" && -r "$STAMP" ]] \
        && [[ "$(head -n 1 "$STAMP")" == "$RELAY_GUEST_VERSION" ]]
}

# Fast path, without a lock: the files only ever appear complete (mv).
if up_to_date; then
    print_paths
    exit 0
fi

for tool in apt-get apt-cache dpkg-deb python3 gzip flock timeout; do
    command -v "$tool" >/dev/null 2>&1 || stratus_die "$tool is missing; it is needed to build the relay guest"
done
[[ "$(dpkg --print-architecture 2>/dev/null)" == amd64 ]] \
    || stratus_die "the relay guest is built from Debian amd64 packages; this machine is $(dpkg --print-architecture 2>/dev/null || uname -m)"

mkdir -p "$DIR" || stratus_die "cannot create $DIR"
chmod 755 "$DIR" || stratus_die "cannot chmod 755 $DIR"
exec 9>"$DIR/.lock"
flock -w "$LOCK_TIMEOUT" 9 || stratus_die "could not lock $DIR/.lock within $LOCK_TIMEOUT s (another build still running?)"
if up_to_date; then
    # Built by a concurrent run while we waited for the lock.
    print_paths
    exit 0
fi

started="$(now_ms)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/stratus-relay-guest.XXXXXX")"
cleanup() {
    rm -rf -- "$WORK"
    rm -f -- "$KERNEL.tmp.$$" "$INITRD.tmp.$$"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ packages

kernel_pkg="$(guest_kernel_pkg "$KERNEL_META" "${STRATUS_RELAY_KERNEL_PKG:-}" STRATUS_RELAY_KERNEL_PKG)"
stratus_log "downloading $kernel_pkg and $BUSYBOX_PKG"
guest_download "$WORK/debs" "$DOWNLOAD_TIMEOUT" "$kernel_pkg" "$BUSYBOX_PKG"
kernel_deb="$(compgen -G "$WORK/debs/${kernel_pkg}_*.deb" | head -n 1)" || true
busybox_deb="$(compgen -G "$WORK/debs/${BUSYBOX_PKG}_*.deb" | head -n 1)" || true
[[ -n "$kernel_deb" ]] || stratus_die "apt-get download left no ${kernel_pkg}_*.deb in $WORK/debs"
[[ -n "$busybox_deb" ]] || stratus_die "apt-get download left no ${BUSYBOX_PKG}_*.deb in $WORK/debs"
downloaded="$(now_ms)"

mkdir -p "$WORK/kernel" "$WORK/busybox"
timeout 300 dpkg-deb -x "$kernel_deb" "$WORK/kernel" || stratus_die "dpkg-deb -x $kernel_deb failed"
timeout 60 dpkg-deb -x "$busybox_deb" "$WORK/busybox" || stratus_die "dpkg-deb -x $busybox_deb failed"

vmlinuz="$(compgen -G "$WORK/kernel/boot/vmlinuz-*" | head -n 1)" || true
[[ -n "$vmlinuz" ]] || stratus_die "$kernel_deb holds no boot/vmlinuz-*"
moddir="$(compgen -G "$WORK/kernel/lib/modules/*" | head -n 1)" || true
[[ -n "$moddir" && -d "$moddir/kernel" ]] || stratus_die "$kernel_deb holds no lib/modules/*/kernel"
busybox="$WORK/busybox/bin/busybox"
[[ -x "$busybox" ]] || stratus_die "$busybox_deb holds no executable bin/busybox"

# ---------------------------------------------------------------- initramfs

ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,dev,proc,sys,mnt,tmp,mods}
cp "$busybox" "$ROOT/bin/busybox"
chmod 755 "$ROOT/bin/busybox"
ln -s busybox "$ROOT/bin/sh"

guest_copy_modules "$moddir" "$ROOT/mods" "${MODULES[@]}"

cat >"$ROOT/init" <<'INIT'
#!/bin/sh
# qga relay guest (built by Stratus deploy/scripts/qga-relay-guest.sh).
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox --install -s /bin
export PATH=/bin
exec </dev/console >/dev/console 2>&1
echo "relay: loading virtio modules"
while read -r m; do
    insmod "/mods/$m.ko" || echo "relay: insmod $m failed"
done </mods/order

# port NAME : print /dev/vportNpM of the virtio-serial port named NAME.
port() {
    for f in /sys/class/virtio-ports/*/name; do
        [ -r "$f" ] || continue
        if [ "$(cat "$f")" = "$1" ]; then
            d="${f%/name}"
            echo "/dev/${d##*/}"
            return 0
        fi
    done
    return 1
}

i=0
AG=""
RL=""
while [ $i -lt 300 ]; do
    AG="$(port org.qemu.guest_agent.0)" && RL="$(port stub.relay)" && [ -c "$AG" ] && [ -c "$RL" ] && break
    AG=""
    RL=""
    i=$((i + 1))
    sleep 0.1
done
if [ -z "$AG" ] || [ -z "$RL" ]; then
    echo "relay: FAILED: no virtio-serial ports named org.qemu.guest_agent.0 and stub.relay after 30 s"
    ls -l /sys/class/virtio-ports/ 2>&1
else
    if [ -b /dev/vda ] && mount /dev/vda /mnt 2>/dev/null; then
        echo "relay: mounted /dev/vda on /mnt"
    fi
    # Keep both ports open for the guest's lifetime: the guest holding the
    # agent port open is what makes libvirt see the agent as connected.
    exec 3<>"$AG" 4<>"$RL"
    # cat ends (EOF) while the host side of a port is not connected: restart it.
    ( while true; do cat <&4 >&3; sleep 0.1; done ) &
    ( while true; do cat <&3 >&4; sleep 0.1; done ) &
    echo "relay ready: $AG (org.qemu.guest_agent.0) <-> $RL (stub.relay)"
fi
while true; do
    sleep 3600
done
INIT
chmod 755 "$ROOT/init"

guest_initrd "$ROOT" "$INITRD.tmp.$$"
cp "$vmlinuz" "$KERNEL.tmp.$$" || stratus_die "cannot copy $vmlinuz to $DIR"
chmod 644 "$KERNEL.tmp.$$" "$INITRD.tmp.$$"
mv -f "$KERNEL.tmp.$$" "$KERNEL"
mv -f "$INITRD.tmp.$$" "$INITRD"
{
    printf '%s\n' "$RELAY_GUEST_VERSION"
    printf 'kernel %s\n' "$(basename "$kernel_deb")"
    printf 'busybox %s\n' "$(basename "$busybox_deb")"
    printf 'modules %s\n' "$(paste -sd' ' "$ROOT/mods/order")"
} >"$STAMP.tmp.$$"
chmod 644 "$STAMP.tmp.$$"
mv -f "$STAMP.tmp.$$" "$STAMP"
stratus_log "relay guest built in $DIR in $(( $(now_ms) - started )) ms" \
    "(download $(( downloaded - started )) ms; $(basename "$kernel_deb"), $(basename "$busybox_deb");" \
    "kernel $(( $(stat -c %s "$KERNEL") / 1024 )) KiB, initrd $(( $(stat -c %s "$INITRD") / 1024 )) KiB)"
print_paths
