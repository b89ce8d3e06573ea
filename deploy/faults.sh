#!/usr/bin/env bash
# Runs the full fault-injection suite (issue 13; not part of the test suite, which runs a
# short deterministic set of it): real processes — conductor, compute-agent, image-gateway
# — killed with SIGKILL at seeded points of live, cold, RBD direct and volume-backed
# snapshots, start, stop and hard reboot, each restarted and checked for what was lost or
# left behind. Writes the table of kill points and outcomes to
# docs/benchmarks/fault-suite.md and exits non-zero if any point left a problem.
#
#     deploy/faults.sh                                   # seed 20261206, 20 points per component, Ceph on
#     STRATUS_FAULTS_SEED=7 deploy/faults.sh              # another seed; the same seed replays a run
#     STRATUS_FAULTS_PER_COMPONENT=5 STRATUS_FAULTS_CEPH=false deploy/faults.sh
#
# Takes about 20-40 minutes for 60 points on a 2-core machine.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$here/scripts/lib.sh"
stratus_pick_java || stratus_die "no JDK >= 21 found"
export STRATUS_PG_BIN="$("$here/scripts/ensure-postgres.sh")"
export STRATUS_FAULTS_SEED="${STRATUS_FAULTS_SEED:-20261206}"
export STRATUS_FAULTS_PER_COMPONENT="${STRATUS_FAULTS_PER_COMPONENT:-20}"
export STRATUS_FAULTS_CEPH="${STRATUS_FAULTS_CEPH:-true}"
export STRATUS_FAULTS_REPORT="${STRATUS_FAULTS_REPORT:-$repo/docs/benchmarks/fault-suite.md}"
cd "$repo"
mvn -B -ntp -q install -DskipTests
log="$(mktemp /tmp/stratus-faults.XXXXXX)"
rc=0
mvn -B -ntp test -pl deploy/e2e -Dtest=FaultInjectionTest -Dsurefire.failIfNoSpecifiedTests=false \
  >"$log" 2>&1 || rc=$?
grep -E 'Tests run:|BUILD|\[faults\]' "$log" deploy/e2e/target/surefire-reports/*FaultInjection*-output.txt 2>/dev/null \
  | sed 's/^[^:]*output.txt://' || true
if [[ "$rc" -ne 0 ]]; then
  stratus_log "the fault suite found problems or failed (maven log: $log); table: $STRATUS_FAULTS_REPORT"
  exit "$rc"
fi
rm -f "$log"
stratus_log "fault suite passed; table of kill points and outcomes: $STRATUS_FAULTS_REPORT"
