#!/usr/bin/env bash
# Makes sure the PostgreSQL server binaries (initdb, pg_ctl, postgres) and the
# `postgres` OS user exist, installing Debian's `postgresql` package if needed,
# then prints the server bin directory on stdout (diagnostics go to stderr):
#
#     PG_BIN="$(deploy/scripts/ensure-postgres.sh)"
#
# Idempotent and quick (no apt, no network) when everything is present.
# Honours STRATUS_PG_BIN (see stratus_pg_bin in lib.sh).
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! pg_bin="$(stratus_pg_bin)"; then
    if [[ -n "${STRATUS_PG_BIN:-}" ]]; then
        stratus_die "fix or unset STRATUS_PG_BIN"
    fi
    stratus_log "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"
    # Debian's `postgresql` depends on the distribution's current server
    # (bookworm: postgresql-15, installed under /usr/lib/postgresql/15/bin).
    stratus_ensure_apt postgresql || stratus_die "could not install PostgreSQL"
    pg_bin="$(stratus_pg_bin)" || stratus_die "postgresql is installed but no /usr/lib/postgresql/*/bin has initdb and pg_ctl"
fi

for tool in initdb pg_ctl postgres; do
    [[ -x "$pg_bin/$tool" ]] || stratus_die "$pg_bin/$tool is missing or not executable"
done

# PostgreSQL refuses to run as root; the testkit and the scripts run the
# server as `postgres` when invoked as root. The Debian package creates it.
if ! getent passwd postgres >/dev/null; then
    if [[ "$(id -u)" != 0 ]]; then
        stratus_die "OS user 'postgres' is missing; create it as root:" \
            "useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres"
    fi
    stratus_log "creating OS user 'postgres'"
    if getent group postgres >/dev/null; then
        group_opt=(--gid postgres)
    else
        group_opt=(--user-group)
    fi
    useradd --system "${group_opt[@]}" --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

printf '%s\n' "$pg_bin"
