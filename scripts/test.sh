#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs and builds, installs and starts the local
# stack (Kafka, MinIO, Iceberg REST catalog, DuckDB extensions), runs the unit and integration
# tests, and stops the stack again if it was not running before. STACK_KEEP=1 leaves it up.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/ensure-build.sh
was_running=0
bash stack/stack.sh status >/dev/null 2>&1 && was_running=1
bash stack/stack.sh up >/dev/null
if [ "$was_running" = 0 ] && [ "${STACK_KEEP:-0}" != 1 ]; then
  trap 'bash stack/stack.sh down' EXIT
fi

status=0
run_vitest() {
  local report
  report=$(mktemp -t vitest-report.XXXXXX.json)
  npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
  # One plain closing line that any CI can read.
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(`vitest ${process.argv.slice(2).join(" ")}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  ' "$report" "$@" || true
  rm -f "$report"
}

if [ $# -gt 0 ]; then
  run_vitest "$@"
else
  # The chaos suite stops and starts parts of the shared stack: never beside the integration tests.
  run_vitest --project unit --project integration
  run_vitest --project chaos
fi
exit $status
