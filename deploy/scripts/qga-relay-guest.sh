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

RELAY_GUEST_VERSION="stratus-qga-relay-guest 1"
KERNEL_META=linux-image-cloud-amd64
BUSYBOX_PKG="busybox-static"
MODULES=(virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_console virtio_blk)
DOWNLOAD_TIMEOUT="${STRATUS_RELAY_TIMEOUT:-600}"
LOCK_TIMEOUT=900

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
}

case "${1:-}" in
    "") usage; stratus_die "missing argument DIR" ;;
    -h|--help) usage; exit 0 ;;
    -*) usage; stratus_die "unknown option: $1" ;;
esac
(( $# == 1 )) || { usage; stratus_die "expected exactly one argument DIR, got $#"; }

DIR="$1"
case "$DIR" in
    /*) ;;
    *) DIR="$PWD/$DIR" ;;
esac
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

apt_updated=0
apt_update_once() {
    (( apt_updated )) && return 1
    apt_updated=1
    [[ "$(id -u)" == 0 ]] || { stratus_log "not root: cannot run apt-get update"; return 1; }
    stratus_log "apt-get update (package lists missing or stale)"
    timeout --kill-after=10 300 apt-get update -qq >&2 || { stratus_log "apt-get update failed"; return 1; }
}

# resolve_kernel_pkg : print the concrete linux-image-*-cloud-amd64 package.
resolve_kernel_pkg() {
    local dep
    dep="$(timeout 60 apt-cache depends "$KERNEL_META" 2>/dev/null \
        | sed -n 's/^ *Depends: <\{0,1\}\(linux-image-[^ >]*-cloud-amd64\)>\{0,1\}$/\1/p' | head -n 1)" || true
    if [[ -z "$dep" ]]; then
        return 1
    fi
    printf '%s\n' "$dep"
}

# download PKG... : apt-get download into $WORK/debs (cwd), bounded.
download() {
    (cd "$WORK/debs" && timeout --kill-after=10 "$DOWNLOAD_TIMEOUT" apt-get download -q "$@" >&2)
}

mkdir -p "$WORK/debs"
# apt (as root) downloads as user _apt: let it reach and write the directory.
chmod 755 "$WORK"
chmod 777 "$WORK/debs"
kernel_pkg="${STRATUS_RELAY_KERNEL_PKG:-}"
if [[ -z "$kernel_pkg" ]]; then
    if ! kernel_pkg="$(resolve_kernel_pkg)"; then
        apt_update_once || true
        kernel_pkg="$(resolve_kernel_pkg)" \
            || stratus_die "apt-cache depends $KERNEL_META names no linux-image-*-cloud-amd64 package" \
                "(is Debian's main component in the apt sources? set STRATUS_RELAY_KERNEL_PKG to choose one)"
    fi
fi
stratus_log "downloading $kernel_pkg and $BUSYBOX_PKG"
if ! download "$kernel_pkg" "$BUSYBOX_PKG"; then
    apt_update_once || stratus_die "apt-get download $kernel_pkg $BUSYBOX_PKG failed (see above)"
    download "$kernel_pkg" "$BUSYBOX_PKG" \
        || stratus_die "apt-get download $kernel_pkg $BUSYBOX_PKG failed even after apt-get update (see above)"
fi
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

: >"$ROOT/mods/order"
for m in "${MODULES[@]}"; do
    ko="$(find "$moddir/kernel" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" -o -name "$m.ko.gz" \) | head -n 1)"
    if [[ -z "$ko" ]]; then
        if grep -q "/$m\.ko\$" "$moddir/modules.builtin" 2>/dev/null; then
            stratus_log "module $m is built into the kernel"
            continue
        fi
        stratus_die "module $m is neither in $(basename "$moddir")/kernel nor built in ($kernel_pkg)"
    fi
    case "$ko" in
        *.ko.xz) xz -dc "$ko" >"$ROOT/mods/$m.ko" || stratus_die "cannot decompress $ko (xz)" ;;
        *.ko.zst) zstd -qdc "$ko" >"$ROOT/mods/$m.ko" || stratus_die "cannot decompress $ko (zstd)" ;;
        *.ko.gz) gzip -dc "$ko" >"$ROOT/mods/$m.ko" || stratus_die "cannot decompress $ko (gzip)" ;;
        *) cp "$ko" "$ROOT/mods/$m.ko" ;;
    esac
    printf '%s\n' "$m" >>"$ROOT/mods/order"
done

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

# newc cpio (all entries root-owned) plus /dev/console and /dev/null nodes, so
# the kernel can open the console before devtmpfs is mounted.
cpio_py='
import os, stat, sys
root, out = sys.argv[1], sys.argv[2]
ino = [300000]
def entry(f, name, mode, data=b"", rdev=(0, 0), nlink=1):
    ino[0] += 1
    name_b = name.encode() + b"\0"
    hdr = "070701" + "".join("%08X" % v for v in (
        ino[0], mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0))
    f.write(hdr.encode() + name_b)
    f.write(b"\0" * ((4 - (110 + len(name_b)) % 4) % 4))
    f.write(data)
    f.write(b"\0" * ((4 - len(data) % 4) % 4))
with open(out, "wb") as f:
    paths = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for n in dirs + sorted(files):
            paths.append(os.path.join(d, n))
    for p in sorted(paths):
        rel = os.path.relpath(p, root)
        st = os.lstat(p)
        perm = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            entry(f, rel, stat.S_IFLNK | 0o777, os.readlink(p).encode())
        elif stat.S_ISDIR(st.st_mode):
            entry(f, rel, stat.S_IFDIR | perm, nlink=2)
        elif stat.S_ISREG(st.st_mode):
            with open(p, "rb") as g:
                entry(f, rel, stat.S_IFREG | perm, g.read())
    entry(f, "dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    entry(f, "dev/null", stat.S_IFCHR | 0o666, rdev=(1, 3))
    entry(f, "TRAILER!!!", 0, nlink=1)
'
timeout 120 python3 -c "$cpio_py" "$ROOT" "$WORK/initrd.cpio" || stratus_die "writing the initramfs cpio failed"
timeout 120 gzip -9n <"$WORK/initrd.cpio" >"$INITRD.tmp.$$" || stratus_die "gzip of the initramfs failed"
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
