#!/usr/bin/env bash
# Runs the benchmarks (not part of the test suite): real libvirtd + qemu guests, the real
# image-gateway; prints the figures the issues ask for. Takes several minutes and needs
# ~10 GiB of free disk under /var/lib/stratus-test.
#
#     deploy/bench.sh                  # all benchmarks
#     deploy/bench.sh SnapshotBenchmark
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$here/scripts/lib.sh"
stratus_pick_java || stratus_die "no JDK >= 21 found"
export STRATUS_PG_BIN="$("$here/scripts/ensure-postgres.sh")"
cd "$repo"
test="${1:-*}"
mvn -B -ntp -q install -DskipTests
mvn -B -ntp test -pl compute-agent,image-gateway,deploy/e2e -Dstratus.excludedGroups= -Dgroups=benchmark \
  -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false \
  | grep -E 'Tests run:|BUILD|ERROR' || true
# The figures are in the benchmarks' output files.
grep -h '\[bench\]' compute-agent/target/surefire-reports/*-output.txt \
  image-gateway/target/surefire-reports/*-output.txt \
  deploy/e2e/target/surefire-reports/*-output.txt 2>/dev/null | sed 's/.*\[bench\]/[bench]/'
