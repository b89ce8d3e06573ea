#!/usr/bin/env bash
# Runs the benchmarks (not part of the test suite): real libvirtd + qemu guests, the real
# services; prints the figures the issues ask for and exits 0 when every benchmark ran.
#
#     deploy/bench.sh                      # all benchmarks (about an hour, ~60 GiB of disk)
#     deploy/bench.sh DataPathBenchmark    # issue 11's end-to-end matrix: writes
#                                          # docs/benchmarks/data-path.md + PNG plots
#     STRATUS_BENCH_POINTS=4:0.5 STRATUS_BENCH_RUNS=3 deploy/bench.sh DataPathBenchmark
#     deploy/bench.sh GlanceDataPathBenchmark  # the same into a real Glance against curl -T:
#                                          # docs/benchmarks/data-path-glance.md
#     deploy/bench.sh ControlPlaneBenchmark    # the conductor with 5,000 simulated hosts:
#                                          # docs/benchmarks/control-plane.md (its agents
#                                          # run at nice 10; STRATUS_BENCH_AGENT_NICE=0
#                                          # runs them at the control plane's priority)
#
# Needs free disk under /var/lib/stratus-test: about 4 × the largest point's virtual size
# (the default matrix goes to 16 GiB fully allocated).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$here/scripts/lib.sh"
stratus_pick_java || stratus_die "no JDK >= 21 found"
export STRATUS_PG_BIN="$("$here/scripts/ensure-postgres.sh")"
export STRATUS_BENCH_REPORT_DIR="${STRATUS_BENCH_REPORT_DIR:-$repo/docs/benchmarks}"
export STRATUS_BENCH_CLI="$repo/deploy/cli/stratus"
cd "$repo"
test="${1:-*}"
mvn -B -ntp -q install -DskipTests
log="$(mktemp /tmp/stratus-bench.XXXXXX)"
rc=0
mvn -B -ntp test -pl compute-agent,image-gateway,deploy/e2e -Dstratus.excludedGroups= -Dgroups=benchmark \
  -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false >"$log" 2>&1 || rc=$?
grep -E 'Tests run:|BUILD|ERROR' "$log" || true
# The figures are in the benchmarks' output files.
for f in compute-agent/target/surefire-reports/*-output.txt \
    image-gateway/target/surefire-reports/*-output.txt \
    deploy/e2e/target/surefire-reports/*-output.txt; do
  if [[ -f "$f" ]]; then
    grep -h '\[bench\]' "$f" | sed 's/.*\[bench\]/[bench]/' || true
  fi
done
if [[ "$rc" -ne 0 ]]; then
  stratus_log "a benchmark failed (maven log: $log)"
  exit "$rc"
fi
rm -f "$log"
stratus_log "benchmarks done; reports under $STRATUS_BENCH_REPORT_DIR"
