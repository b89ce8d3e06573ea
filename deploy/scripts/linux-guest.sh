#!/usr/bin/env bash
# Builds the Stratus test Linux guest, a bootable raw disk image, into DIR and
# prints its path on stdout (diagnostics go to stderr):
#
#     eval "$(deploy/scripts/linux-guest.sh /var/lib/stratus-test/linux-guest)"
#     # sets LINUX_GUEST_IMAGE=DIR/guest.raw
#
# The guest is a small Linux made only of Debian packages: the cloud kernel,
# busybox, qemu-guest-agent and e2fsck with the libraries they need. It boots
# under TCG from its own disk, the way a server's image does (SeaBIOS -> MBR
# -> syslinux on a FAT partition -> kernel + initramfs -> ext4 root), so a
# server booted from a snapshot of it really boots the snapshot. Its console
# (ttyS0) says what happens; the lines tests read are:
#   stratus-initramfs: journal: clean|needs_recovery   (before anything mounts it)
#   stratus-initramfs: fsck rc=N                       (e2fsck -f -n after any journal replay)
#   stratus-guest: ready boot=N uptime=S               (guest agent and acpid running)
#   stratus-writer: complete fNNNN SHA256              (a file of the known stream is complete)
#   stratus-qga-hook: freeze|thaw uptime=S             (qemu-ga's fsfreeze hook)
#   stratus-verify: boot-N files=F ok=O bad=B manifest-sha256=S
#   stratus-guest: ACPI power button: powering off
#   stratus-guest: clean shutdown: / remounted read-only
# The guest's scripts are the files in deploy/guest/linux/ (see each file).
#
# Layout of the 256 MiB disk: MBR with syslinux's mbr.bin; partition 1 (FAT16,
# active, 1-32 MiB): syslinux, vmlinuz, initrd.gz; partition 2 (ext4, 32-256
# MiB): the root file system. The image is sparse (about 60 MiB of data).
#
# Steps:
#   1. installs the host tools it needs when missing (fdisk dosfstools mtools
#      syslinux syslinux-common; as root, like the other deploy scripts);
#   2. `apt-get download`s the guest's packages (kernel resolved from the
#      metapackage linux-image-cloud-amd64) and `dpkg-deb -x`s them into the
#      root file system; nothing is installed on this machine for the guest;
#   3. checks with the guest's own ld.so that qemu-ga and e2fsck find every
#      library; writes the initramfs (busybox, e2fsck, modules, /init);
#   4. builds both file systems as image files (mkfs.ext4 -d, mkfs.fat +
#      mcopy + syslinux --install; no mount, no loop device) and assembles the
#      disk; writes DIR/.version last.
#
# Cached and idempotent: when DIR/guest.raw and a DIR/.version whose first line
# is the current version (this script's recipe version plus a hash of
# deploy/guest/linux/*) exist, it only prints the path (~10 ms). Concurrent
# runs on the same DIR are serialised by DIR/.lock; the image is replaced
# atomically. DIR and the image are world-readable (qemu runs as libvirt-qemu).
#
# Environment:
#   STRATUS_GUEST_KERNEL_PKG   kernel package instead of resolving
#                              linux-image-cloud-amd64 (e.g. linux-image-6.1.0-50-cloud-amd64)
#   STRATUS_GUEST_TIMEOUT      seconds allowed for each download (600)
#
# Exit status: 0 with the path printed, 1 on any failure (reason on stderr).
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=guest-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/guest-lib.sh"

RECIPE_VERSION=1
GUEST_FILES="$(cd "$(dirname "${BASH_SOURCE[0]}")/../guest/linux" && pwd)"
KERNEL_META=linux-image-cloud-amd64
# qemu-guest-agent and e2fsck, and every library they link (checked in step 3).
PACKAGES=(busybox-static qemu-guest-agent e2fsprogs libc6 libglib2.0-0 libnuma1 libudev1
    liburing2 libpcre2-8-0 libffi8 libmount1 libselinux1 libblkid1 libuuid1 zlib1g
    libext2fs2 libcom-err2 libss2)
HOST_TOOLS=(fdisk dosfstools mtools syslinux syslinux-common)
MODULES=(virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
    virtio_console virtio_blk button evdev)
DISK_MIB=256
BOOT_START_MIB=1
ROOT_START_MIB=32
DOWNLOAD_TIMEOUT="${STRATUS_GUEST_TIMEOUT:-600}"
LOCK_TIMEOUT=900

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
}

guest_dir_arg "$@"
DIR="$GUEST_DIR"
IMAGE="$DIR/guest.raw"
STAMP="$DIR/.version"
[[ -d "$GUEST_FILES" ]] || stratus_die "the guest's files are missing: $GUEST_FILES"
VERSION="stratus-linux-guest $RECIPE_VERSION $(cat "$GUEST_FILES"/* | sha256sum | cut -c1-16)"

now_ms() { date +%s%3N; }

up_to_date() {
    [[ -s "$IMAGE" && -r "$STAMP" ]] && [[ "$(head -n 1 "$STAMP")" == "$VERSION" ]]
}

if up_to_date; then
    printf 'LINUX_GUEST_IMAGE=%s\n' "$IMAGE"
    exit 0
fi

[[ "$(dpkg --print-architecture 2>/dev/null)" == amd64 ]] \
    || stratus_die "the guest is built from Debian amd64 packages; this machine is $(dpkg --print-architecture 2>/dev/null || uname -m)"
stratus_ensure_apt "${HOST_TOOLS[@]}" || stratus_die "cannot install the tools that build the guest disk: ${HOST_TOOLS[*]}"
for tool in apt-get apt-cache dpkg-deb python3 gzip flock timeout sfdisk mkfs.fat mcopy syslinux mkfs.ext4 ldconfig; do
    command -v "$tool" >/dev/null 2>&1 || stratus_die "$tool is missing; it is needed to build the guest"
done
MBR_BIN=""
for f in /usr/lib/syslinux/mbr/mbr.bin /usr/lib/SYSLINUX/mbr.bin /usr/share/syslinux/mbr.bin; do
    [[ -r "$f" ]] && { MBR_BIN="$f"; break; }
done
[[ -n "$MBR_BIN" ]] || stratus_die "syslinux's mbr.bin not found (package syslinux-common)"

mkdir -p "$DIR" || stratus_die "cannot create $DIR"
chmod 755 "$DIR" || stratus_die "cannot chmod 755 $DIR"
exec 9>"$DIR/.lock"
flock -w "$LOCK_TIMEOUT" 9 || stratus_die "could not lock $DIR/.lock within $LOCK_TIMEOUT s"
if up_to_date; then
    printf 'LINUX_GUEST_IMAGE=%s\n' "$IMAGE"
    exit 0
fi

started="$(now_ms)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/stratus-linux-guest.XXXXXX")"
cleanup() {
    rm -rf -- "$WORK"
    rm -f -- "$IMAGE.tmp.$$"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ packages

kernel_pkg="$(guest_kernel_pkg "$KERNEL_META" "${STRATUS_GUEST_KERNEL_PKG:-}" STRATUS_GUEST_KERNEL_PKG)"
stratus_log "downloading $kernel_pkg and ${PACKAGES[*]}"
guest_download "$WORK/debs" "$DOWNLOAD_TIMEOUT" "$kernel_pkg" "${PACKAGES[@]}"
downloaded="$(now_ms)"

ROOT="$WORK/root"
KDIR="$WORK/kernel"
mkdir -p "$ROOT" "$KDIR"
for deb in "$WORK"/debs/*.deb; do
    case "$(basename "$deb")" in
        "${kernel_pkg}"_*) timeout 300 dpkg-deb -x "$deb" "$KDIR" || stratus_die "dpkg-deb -x $deb failed" ;;
        *) timeout 120 dpkg-deb -x "$deb" "$ROOT" || stratus_die "dpkg-deb -x $deb failed" ;;
    esac
done
vmlinuz="$(compgen -G "$KDIR/boot/vmlinuz-*" | head -n 1)" || true
[[ -n "$vmlinuz" ]] || stratus_die "$kernel_pkg holds no boot/vmlinuz-*"
moddir="$(compgen -G "$KDIR/lib/modules/*" | head -n 1)" || true
[[ -n "$moddir" && -d "$moddir/kernel" ]] || stratus_die "$kernel_pkg holds no lib/modules/*/kernel"

# ------------------------------------------------------------ root file system

rm -rf "$ROOT"/usr/share/{doc,man,info,locale,lintian,bug,bash-completion} \
    "$ROOT"/usr/lib/x86_64-linux-gnu/gconv "$ROOT"/etc/init.d "$ROOT"/lib/systemd "$ROOT"/usr/lib/systemd
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,dev,proc,sys,run,tmp,data,etc/stratus,etc/acpi/PWRF,etc/qemu,var/lib/stratus,var/log}
chmod 1777 "$ROOT/tmp"
busybox="$ROOT/bin/busybox"
[[ -x "$busybox" ]] || stratus_die "busybox-static holds no bin/busybox"
# every applet as a symlink, unless a package put a real program there
while read -r applet; do
    [[ -e "$ROOT/$applet" || -L "$ROOT/$applet" ]] && continue
    mkdir -p "$(dirname "$ROOT/$applet")"
    ln -s /bin/busybox "$ROOT/$applet"
done < <("$busybox" --list-full)
install -m 644 "$GUEST_FILES/inittab" "$ROOT/etc/inittab"
install -m 755 "$GUEST_FILES/rcS" "$ROOT/etc/stratus/rcS"
install -m 755 "$GUEST_FILES/shutdown" "$ROOT/etc/stratus/shutdown"
install -m 755 "$GUEST_FILES/acpi-power" "$ROOT/etc/acpi/PWRF/00000080"
install -m 755 "$GUEST_FILES/fsfreeze-hook" "$ROOT/etc/qemu/fsfreeze-hook"
install -m 755 "$GUEST_FILES/writer" "$ROOT/usr/local/bin/stratus-writer"
install -m 755 "$GUEST_FILES/verify" "$ROOT/usr/local/bin/stratus-verify"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\n' >"$ROOT/etc/group"
printf 'stratus-guest\n' >"$ROOT/etc/hostname"
ldconfig -r "$ROOT" 2>/dev/null || stratus_die "ldconfig -r $ROOT failed"

# the guest's own loader lists what a program links; any "not found" fails the build
LDSO="$ROOT/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
[[ -x "$LDSO" ]] || stratus_die "libc6 holds no lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
LIBPATH="$ROOT/lib/x86_64-linux-gnu:$ROOT/usr/lib/x86_64-linux-gnu"
libs_of() {
    local out
    out="$("$LDSO" --library-path "$LIBPATH" --list "$1" 2>&1)" || stratus_die "cannot list the libraries of $1: $out"
    if grep -q 'not found' <<<"$out"; then
        stratus_die "$1 lacks libraries in the guest (add their packages to PACKAGES):" "$(grep 'not found' <<<"$out")"
    fi
    sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p' <<<"$out"
}
libs_of "$ROOT/usr/sbin/qemu-ga" >/dev/null
e2fsck_libs="$(libs_of "$ROOT/sbin/e2fsck")"

# ------------------------------------------------------------------ initramfs

INITRD_ROOT="$WORK/initrd"
mkdir -p "$INITRD_ROOT"/{bin,sbin,dev,proc,sys,tmp,mods,lib64,lib/x86_64-linux-gnu}
cp "$busybox" "$INITRD_ROOT/bin/busybox"
ln -s busybox "$INITRD_ROOT/bin/sh"
cp "$ROOT/sbin/e2fsck" "$INITRD_ROOT/bin/e2fsck"
cp "$LDSO" "$INITRD_ROOT/lib/x86_64-linux-gnu/"
ln -s /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$INITRD_ROOT/lib64/ld-linux-x86-64.so.2"
while read -r lib; do
    [[ -n "$lib" ]] || continue
    cp -L "$lib" "$INITRD_ROOT/lib/x86_64-linux-gnu/$(basename "$lib")"
done <<<"$e2fsck_libs"
install -m 755 "$GUEST_FILES/init" "$INITRD_ROOT/init"
guest_copy_modules "$moddir" "$INITRD_ROOT/mods" "${MODULES[@]}"
guest_initrd "$INITRD_ROOT" "$WORK/initrd.gz"

# ------------------------------------------------------------------ the disk

BOOT_MIB=$(( ROOT_START_MIB - BOOT_START_MIB ))
ROOT_MIB=$(( DISK_MIB - ROOT_START_MIB ))
cat >"$WORK/syslinux.cfg" <<'CFG'
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND console=ttyS0 quiet panic=-1
CFG
# hidden sectors = the partition's first sector, which syslinux's boot sector needs
mkfs.fat -n STRATUSBOOT -h $(( BOOT_START_MIB * 2048 )) -C "$WORK/boot.img" $(( BOOT_MIB * 1024 )) >/dev/null \
    || stratus_die "mkfs.fat failed"
MTOOLS_SKIP_CHECK=1 mcopy -i "$WORK/boot.img" "$vmlinuz" ::/vmlinuz || stratus_die "mcopy vmlinuz failed"
MTOOLS_SKIP_CHECK=1 mcopy -i "$WORK/boot.img" "$WORK/initrd.gz" ::/initrd.gz || stratus_die "mcopy initrd failed"
MTOOLS_SKIP_CHECK=1 mcopy -i "$WORK/boot.img" "$WORK/syslinux.cfg" ::/syslinux.cfg || stratus_die "mcopy syslinux.cfg failed"
MTOOLS_SKIP_CHECK=1 syslinux --install "$WORK/boot.img" || stratus_die "syslinux --install failed"
mkfs.ext4 -q -F -L stratus-root -d "$ROOT" -E lazy_itable_init=0,lazy_journal_init=0 \
    "$WORK/root.img" "${ROOT_MIB}M" || stratus_die "mkfs.ext4 -d failed"

truncate -s "${DISK_MIB}M" "$IMAGE.tmp.$$"
sfdisk -q "$IMAGE.tmp.$$" >/dev/null <<EOF || stratus_die "sfdisk failed"
label: dos
start=$(( BOOT_START_MIB * 2048 )), size=$(( BOOT_MIB * 2048 )), type=6, bootable
start=$(( ROOT_START_MIB * 2048 )), size=$(( ROOT_MIB * 2048 )), type=83
EOF
dd if="$MBR_BIN" of="$IMAGE.tmp.$$" bs=440 count=1 conv=notrunc status=none || stratus_die "writing the MBR failed"
dd if="$WORK/boot.img" of="$IMAGE.tmp.$$" bs=1M seek="$BOOT_START_MIB" conv=notrunc,sparse status=none \
    || stratus_die "writing the boot partition failed"
dd if="$WORK/root.img" of="$IMAGE.tmp.$$" bs=1M seek="$ROOT_START_MIB" conv=notrunc,sparse status=none \
    || stratus_die "writing the root partition failed"
chmod 644 "$IMAGE.tmp.$$"
mv -f "$IMAGE.tmp.$$" "$IMAGE"
{
    printf '%s\n' "$VERSION"
    printf 'kernel %s\n' "$kernel_pkg"
    (cd "$WORK/debs" && ls -1 ./*.deb | sed 's|^\./|package |')
} >"$STAMP.tmp.$$"
chmod 644 "$STAMP.tmp.$$"
mv -f "$STAMP.tmp.$$" "$STAMP"
stratus_log "Linux guest built in $DIR in $(( $(now_ms) - started )) ms" \
    "(download $(( downloaded - started )) ms; $(( $(du -k "$IMAGE" | cut -f1) / 1024 )) MiB of data in a ${DISK_MIB} MiB disk)"
printf 'LINUX_GUEST_IMAGE=%s\n' "$IMAGE"
