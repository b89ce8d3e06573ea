#!/usr/bin/env bash
# Runs every test of the project, installing what the tests need first.
#
#     deploy/test-all.sh            # what CI runs (.ci/run calls exactly this)
#
# Needs: Debian/Ubuntu, a JDK (>= 21 is picked from /usr/lib/jvm when the default is
# older) and Maven. Installs missing OS packages with apt when run as root; otherwise it
# says exactly what to install and stops.
# Real services only: the tests start their own throwaway PostgreSQL cluster.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$here/scripts/lib.sh"

stratus_pick_java || stratus_die "no JDK >= 21 found; install one (e.g. apt-get install openjdk-21-jdk-headless)"
command -v mvn >/dev/null || stratus_ensure_apt maven || stratus_die "Maven is required"
stratus_log "java: $JAVA_HOME"

# the multi-host tests make network namespaces, veth pairs, a bridge and tc limits
stratus_ensure_apt iproute2 || stratus_die "iproute2 (ip, tc) is required for the multi-host tests"
# OpenStack's own clients drive the Keystone, Nova and Glance REST subsets in the e2e suite
stratus_ensure_apt python3-openstackclient python3-glanceclient \
    || stratus_die "python3-openstackclient and python3-glanceclient are required for the OpenStack API tests"

PG_BIN="$("$here/scripts/ensure-postgres.sh")"
export STRATUS_PG_BIN="$PG_BIN"
stratus_log "postgresql: $PG_BIN"

cd "$repo"
stratus_log "running the test suite (mvn verify)"
start=$(date +%s)
mvn -B -ntp verify "$@"
stratus_log "test suite passed in $(( $(date +%s) - start )) s"
