#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs and builds, installs and starts the local
# stack (Kafka, MinIO, Iceberg REST catalog, DuckDB extensions), runs the unit, integration and
# chaos tests, builds the product's images and runs them as containers (where a container engine
# can be had), and stops the stack again if it was not running before. STACK_KEEP=1 leaves it up.
#   test.sh                  everything
#   test.sh --containers     only the container tests (npm run test:containers)
#   test.sh VITEST_ARGS…     vitest with these arguments
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# every suite runs on the Node.js the product runs on, fetched when this machine's is older
source scripts/node.sh

bash scripts/ensure-build.sh
# the suites' global setup would build again otherwise (test/helpers/build.ts)
export OTEL_LAKEHOUSE_BUILT=1
# the tests themselves are type-checked too (vitest only strips the types)
npx tsc -p tsconfig.test.json
was_running=0
bash stack/stack.sh status >/dev/null 2>&1 && was_running=1
bash stack/stack.sh up >/dev/null
# the OpenTelemetry Collector some integration tests send through (built once, cached)
bash stack/stack.sh install-otelcol >/dev/null
# the headless browser the query page's test drives (Debian's chromium, installed once)
bash stack/stack.sh install-browser >/dev/null
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

# The product's images, built from this repository and run as containers against the stack;
# skipped, in one line, where no container engine can be had.
run_containers() {
  local engine
  if ! engine=$(bash stack/containers/containers.sh engine); then
    echo "containers: skipped: $engine"
    return 0
  fi
  if ! { bash stack/containers/containers.sh build && bash stack/containers/containers.sh standins; }; then
    status=1
    return 0
  fi
  # testcontainers drives the engine through its Docker-compatible API; its reaper container
  # (ryuk) is an image from Docker Hub, so the tests remove their containers themselves.
  local docker_host
  docker_host=$(bash stack/containers/containers.sh socket) || { status=1; return 0; }
  DOCKER_HOST=$docker_host TESTCONTAINERS_RYUK_DISABLED=true run_vitest --project containers
}

if [ "${1:-}" = --containers ]; then
  run_containers
elif [ $# -gt 0 ]; then
  run_vitest "$@"
else
  # The chaos suite stops and starts parts of the shared stack: never beside the integration tests.
  run_vitest --project unit --project integration
  run_vitest --project chaos
  run_containers
fi
exit $status
