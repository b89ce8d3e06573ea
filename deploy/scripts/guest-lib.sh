# shellcheck shell=bash
# Shared by the scripts that build test guests from Debian packages
# (qga-relay-guest.sh, linux-guest.sh). Source it after lib.sh:
#     . "$(dirname "${BASH_SOURCE[0]}")/guest-lib.sh"
#
# The calling script defines `usage` (prints its help to stderr).

# guest_dir_arg ARGS... : sets GUEST_DIR to the script's one argument DIR, made
# absolute; prints the usage and exits on -h/--help, an option, or not exactly one
# argument.
guest_dir_arg() {
    case "${1:-}" in
        "") usage; stratus_die "missing argument DIR" ;;
        -h|--help) usage; exit 0 ;;
        -*) usage; stratus_die "unknown option: $1" ;;
    esac
    (( $# == 1 )) || { usage; stratus_die "expected exactly one argument DIR, got $#"; }
    case "$1" in
        /*) GUEST_DIR="$1" ;;
        *) GUEST_DIR="$PWD/$1" ;;
    esac
}

_GUEST_APT_UPDATED=0

# guest_apt_update_once : `apt-get update`, at most once per script run (as root).
guest_apt_update_once() {
    (( _GUEST_APT_UPDATED )) && return 1
    _GUEST_APT_UPDATED=1
    [[ "$(id -u)" == 0 ]] || { stratus_log "not root: cannot run apt-get update"; return 1; }
    stratus_log "apt-get update (package lists missing or stale)"
    timeout --kill-after=10 300 apt-get update -qq >&2 || { stratus_log "apt-get update failed"; return 1; }
}

# _guest_resolve_kernel_pkg META : the concrete linux-image-*-cloud-amd64 package META depends on.
_guest_resolve_kernel_pkg() {
    local dep
    dep="$(timeout 60 apt-cache depends "$1" 2>/dev/null \
        | sed -n 's/^ *Depends: <\{0,1\}\(linux-image-[^ >]*-cloud-amd64\)>\{0,1\}$/\1/p' | head -n 1)" || true
    [[ -n "$dep" ]] || return 1
    printf '%s\n' "$dep"
}

# guest_kernel_pkg META OVERRIDE OVERRIDE_NAME : OVERRIDE when set, else the concrete
# kernel package of the metapackage META (updating the package lists once if needed).
guest_kernel_pkg() {
    local meta="$1" override="$2" name="$3" pkg
    if [[ -n "$override" ]]; then
        printf '%s\n' "$override"
        return 0
    fi
    if ! pkg="$(_guest_resolve_kernel_pkg "$meta")"; then
        guest_apt_update_once || true
        pkg="$(_guest_resolve_kernel_pkg "$meta")" \
            || stratus_die "apt-cache depends $meta names no linux-image-*-cloud-amd64 package" \
                "(is Debian's main component in the apt sources? set $name to choose one)"
    fi
    printf '%s\n' "$pkg"
}

# guest_download DEBS_DIR TIMEOUT PKG... : `apt-get download` the packages into DEBS_DIR
# (made writable for apt's _apt user), each attempt bounded by TIMEOUT seconds; updates
# the package lists once and retries when the first attempt fails.
guest_download() {
    local debs="$1" limit="$2"
    shift 2
    mkdir -p "$debs"
    chmod 755 "$(dirname "$debs")"
    chmod 777 "$debs"
    _guest_fetch() {
        (cd "$debs" && timeout --kill-after=10 "$limit" apt-get download -q "$@" >&2)
    }
    if ! _guest_fetch "$@"; then
        guest_apt_update_once || stratus_die "apt-get download $* failed (see above)"
        _guest_fetch "$@" || stratus_die "apt-get download $* failed even after apt-get update (see above)"
    fi
}

# guest_copy_modules MODDIR DEST MODULE... : copies each kernel module (decompressed) from
# MODDIR/kernel to DEST/NAME.ko and lists the copied ones, in order, in DEST/order; a
# module built into the kernel is skipped, a missing one is fatal.
guest_copy_modules() {
    local moddir="$1" dest="$2" m ko
    shift 2
    : >"$dest/order"
    for m in "$@"; do
        ko="$(find "$moddir/kernel" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" -o -name "$m.ko.gz" \) | head -n 1)"
        if [[ -z "$ko" ]]; then
            if grep -q "/$m\.ko\$" "$moddir/modules.builtin" 2>/dev/null; then
                stratus_log "module $m is built into the kernel"
                continue
            fi
            stratus_die "module $m is neither in $(basename "$moddir")/kernel nor built in"
        fi
        case "$ko" in
            *.ko.xz) xz -dc "$ko" >"$dest/$m.ko" || stratus_die "cannot decompress $ko (xz)" ;;
            *.ko.zst) zstd -qdc "$ko" >"$dest/$m.ko" || stratus_die "cannot decompress $ko (zstd)" ;;
            *.ko.gz) gzip -dc "$ko" >"$dest/$m.ko" || stratus_die "cannot decompress $ko (gzip)" ;;
            *) cp "$ko" "$dest/$m.ko" ;;
        esac
        printf '%s\n' "$m" >>"$dest/order"
    done
}

# guest_initrd TREE OUT : writes OUT, the gzipped newc cpio of TREE (see newc-cpio.py).
guest_initrd() {
    timeout 120 python3 "$(dirname "${BASH_SOURCE[0]}")/newc-cpio.py" "$1" "$2.cpio" \
        || stratus_die "writing the initramfs cpio failed"
    timeout 120 gzip -9n <"$2.cpio" >"$2" || stratus_die "gzip of the initramfs failed"
    rm -f "$2.cpio"
}
