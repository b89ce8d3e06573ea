# shellcheck shell=bash
# Shared helpers for the Stratus deploy scripts.
#
# Source it, do not run it:
#     . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Safe under `set -euo pipefail`: every function returns an explicit status,
# writes its diagnostics to stderr and only its result (if any) to stdout.

if [[ -n "${_STRATUS_LIB_SH:-}" ]]; then
    return 0
fi
_STRATUS_LIB_SH=1

# Set once `apt-get update` has run in this process (see stratus_ensure_apt).
_STRATUS_APT_UPDATED=0

# The oldest Java feature release the project builds and runs on.
STRATUS_MIN_JAVA=21

# stratus_log MESSAGE... : print "[stratus] MESSAGE" to stderr.
stratus_log() {
    printf '[stratus] %s\n' "$*" >&2
}

# stratus_die MESSAGE... : print "[stratus] ERROR: MESSAGE" to stderr and exit 1.
stratus_die() {
    printf '[stratus] ERROR: %s\n' "$*" >&2
    exit 1
}

# _stratus_java_major JAVA_HOME_DIR : print the feature release (8, 17, 21, 25...)
# of the JDK/JRE at JAVA_HOME_DIR, or nothing if it cannot be determined.
# Reads the `release` file when present (no JVM start), else runs `java -version`.
_stratus_java_major() {
    local home="$1" version=""
    if [[ -r "$home/release" ]]; then
        version="$(sed -n 's/^JAVA_VERSION="\([^"]*\)".*/\1/p' "$home/release" | head -n 1)"
    fi
    if [[ -z "$version" && -x "$home/bin/java" ]]; then
        version="$("$home/bin/java" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)" || true
    fi
    _stratus_version_major "$version"
}

# _stratus_version_major VERSION : "1.8.0_402" -> 8, "17.0.15" -> 17, "25-ea" -> 25.
_stratus_version_major() {
    local v="$1"
    if [[ "$v" == 1.* ]]; then
        v="${v#1.}"
    fi
    v="${v%%[!0-9]*}"
    if [[ -n "$v" ]]; then
        printf '%s\n' "$v"
    fi
    return 0
}

# _stratus_use_java HOME : export JAVA_HOME=HOME and put HOME/bin first on PATH.
_stratus_use_java() {
    export JAVA_HOME="$1"
    case ":$PATH:" in
        ":$JAVA_HOME/bin:"*) ;;
        *) export PATH="$JAVA_HOME/bin:$PATH" ;;
    esac
    return 0
}

# stratus_pick_java : make sure `java` (and JAVA_HOME, which Maven prefers) is
# a JDK >= 21.
#   1. JAVA_HOME already points to a JDK >= 21: keep it (and put it first on PATH).
#   2. `java` on PATH is >= 21: keep it; export JAVA_HOME from it when it is a
#      full JDK (a JRE is accepted only when JAVA_HOME is unset).
#   3. Otherwise pick the newest JDK >= 21 under /usr/lib/jvm (one with bin/javac).
# Fails (returns 1) with a message when there is none.
stratus_pick_java() {
    local major home best="" best_major=0 java_bin="" path_major=""

    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/javac" ]]; then
        major="$(_stratus_java_major "$JAVA_HOME")"
        if [[ -n "$major" ]] && (( major >= STRATUS_MIN_JAVA )); then
            _stratus_use_java "$JAVA_HOME"
            return 0
        fi
        stratus_log "JAVA_HOME=$JAVA_HOME is Java ${major:-?}, need >= $STRATUS_MIN_JAVA; looking for a newer JDK"
    fi

    if java_bin="$(command -v java 2>/dev/null)"; then
        path_major="$(_stratus_version_major "$("$java_bin" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)")"
        if [[ -n "$path_major" ]] && (( path_major >= STRATUS_MIN_JAVA )); then
            home="$(dirname "$(dirname "$(readlink -f "$java_bin")")")"
            if [[ -x "$home/bin/javac" ]]; then
                _stratus_use_java "$home"
                return 0
            fi
            if [[ -z "${JAVA_HOME:-}" ]]; then
                # A JRE >= 21 without JAVA_HOME: good enough to run things.
                return 0
            fi
        fi
    fi

    for home in /usr/lib/jvm/*; do
        [[ -d "$home" && -x "$home/bin/javac" && -x "$home/bin/java" ]] || continue
        home="$(readlink -f "$home")"
        major="$(_stratus_java_major "$home")"
        [[ -n "$major" ]] || continue
        if (( major > best_major )); then
            best="$home"
            best_major="$major"
        fi
    done

    if [[ -z "$best" ]] || (( best_major < STRATUS_MIN_JAVA )); then
        stratus_log "ERROR: no JDK >= $STRATUS_MIN_JAVA found: JAVA_HOME=${JAVA_HOME:-<unset>}," \
            "java on PATH is ${java_bin:-<none>} (Java ${path_major:-?}), nothing newer under /usr/lib/jvm/*/bin/javac." \
            "Install one (e.g. apt-get install openjdk-21-jdk-headless, or a Temurin JDK) or set JAVA_HOME to it."
        return 1
    fi
    stratus_log "using JDK $best_major at $best"
    _stratus_use_java "$best"
    return 0
}

# _stratus_pkg_installed PKG : true when the Debian package PKG is installed.
_stratus_pkg_installed() {
    local status
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" || return 1
    [[ "$status" == "install ok installed" ]]
}

# _stratus_apt_lists_present : true when apt has package lists to install from.
_stratus_apt_lists_present() {
    compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

# _stratus_apt_update : run `apt-get update` unless it already ran in this process.
_stratus_apt_update() {
    if (( _STRATUS_APT_UPDATED )); then
        return 0
    fi
    stratus_log "apt-get update"
    apt-get update -qq >&2 || return 1
    _STRATUS_APT_UPDATED=1
    return 0
}

# stratus_ensure_apt PKG... : install the Debian packages among PKG... that are
# not installed yet. Runs `apt-get update` at most once per process, and only
# when needed (no package lists yet, or the first install attempt failed).
# When not root, or without apt-get, prints what is missing and how to install
# it, and returns 1.
stratus_ensure_apt() {
    local pkg missing=()
    for pkg in "$@"; do
        if ! _stratus_pkg_installed "$pkg"; then
            missing+=("$pkg")
        fi
    done
    if (( ${#missing[@]} == 0 )); then
        return 0
    fi

    local install=(apt-get install -y --no-install-recommends "${missing[@]}")
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        stratus_log "ERROR: missing Debian packages: ${missing[*]}"
        if command -v apt-get >/dev/null 2>&1; then
            stratus_log "install them as root with:"
        else
            stratus_log "apt-get is not available here; on Debian/Ubuntu install them as root with:"
        fi
        stratus_log "    sudo DEBIAN_FRONTEND=noninteractive ${install[*]}"
        return 1
    fi

    stratus_log "installing Debian packages: ${missing[*]}"
    if ! _stratus_apt_lists_present; then
        _stratus_apt_update || { stratus_log "ERROR: apt-get update failed"; return 1; }
    fi
    if DEBIAN_FRONTEND=noninteractive "${install[@]}" >&2; then
        return 0
    fi
    if (( _STRATUS_APT_UPDATED )); then
        stratus_log "ERROR: '${install[*]}' failed"
        return 1
    fi
    # Stale package lists are the usual cause: refresh once and retry.
    _stratus_apt_update || { stratus_log "ERROR: apt-get update failed"; return 1; }
    if DEBIAN_FRONTEND=noninteractive "${install[@]}" >&2; then
        return 0
    fi
    stratus_log "ERROR: '${install[*]}' failed"
    return 1
}

# stratus_pg_bin : print the PostgreSQL server bin directory (holding initdb
# and pg_ctl): $STRATUS_PG_BIN if set, else the highest-version
# /usr/lib/postgresql/*/bin. Debian's /usr/bin|/usr/local/bin wrappers are
# deliberately not used. Prints nothing and returns 1 if there is none.
stratus_pg_bin() {
    local dir best=""
    if [[ -n "${STRATUS_PG_BIN:-}" ]]; then
        if [[ -x "$STRATUS_PG_BIN/initdb" && -x "$STRATUS_PG_BIN/pg_ctl" ]]; then
            printf '%s\n' "$STRATUS_PG_BIN"
            return 0
        fi
        stratus_log "ERROR: STRATUS_PG_BIN=$STRATUS_PG_BIN does not contain initdb and pg_ctl"
        return 1
    fi
    # sort -V orders 9.6 < 10 < 15 < 17 correctly; keep the last usable one.
    while IFS= read -r dir; do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            best="$dir"
        fi
    done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -V)
    if [[ -z "$best" ]]; then
        return 1
    fi
    printf '%s\n' "$best"
    return 0
}
