#!/usr/bin/env bash
# The product end to end on this machine: installs and builds, starts the part of the local
# stack the lake needs (Kafka, MinIO, the Iceberg REST catalog; not the hot-path backends), runs
# an ingester and an appender, sends sample logs over OTLP/HTTP, waits for the Iceberg commit and
# queries the rows back with DuckDB SQL. The stack stays up afterwards (npm run stack:down).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/node.sh

bash scripts/ensure-build.sh --node-only
eval "$(bash stack/stack.sh up kafka minio iceberg)"

logs=${OTEL_LAKEHOUSE_CACHE:-$HOME/.cache/otel-lakehouse}/run/logs
export TENANT_TOKENS=${TENANT_TOKENS:-demo=demo-token}
export BUFFER_TIME_SECONDS=${BUFFER_TIME_SECONDS:-5}
export INGESTER_HOST=127.0.0.1
export INGESTER_HTTP_PORT=${INGESTER_HTTP_PORT:-4318}
export LOG_LEVEL=${LOG_LEVEL:-info}
export PIPELINES=lake

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

node dist/cli/ingester.js >"$logs/demo-ingester.log" 2>&1 & pids+=($!)
node dist/cli/appender.js >"$logs/demo-appender.log" 2>&1 & pids+=($!)
echo "[demo] ingester and appender starting (logs: $logs/demo-*.log)"
for _ in $(seq 1 120); do
  curl -sf -o /dev/null "http://127.0.0.1:$INGESTER_HTTP_PORT/readyz" && break
  sleep 0.5
done
curl -sf -o /dev/null "http://127.0.0.1:$INGESTER_HTTP_PORT/readyz" || { tail -n 20 "$logs/demo-ingester.log"; echo "[demo] ingester did not become ready" >&2; exit 1; }

run_id=$(node -e 'console.log(require("crypto").randomBytes(4).toString("hex"))')
echo "[demo] sending sample logs (run $run_id)"
node dist/cli/send-sample-logs.js --url "http://127.0.0.1:$INGESTER_HTTP_PORT" --token demo-token --requests 12 --records 50 --run-id "$run_id"
expected=600

echo "[demo] waiting for the appender to commit to Iceberg (BUFFER_TIME_SECONDS=$BUFFER_TIME_SECONDS)"
count=0
for _ in $(seq 1 120); do
  count=$(node dist/cli/query.js --format csv "SELECT count(*) FROM logs WHERE attributes['demo.run'] = '$run_id'" 2>/dev/null | tail -n 1 || echo 0)
  [ "${count:-0}" -ge "$expected" ] 2>/dev/null && break
  sleep 1
done
[ "${count:-0}" -ge "$expected" ] 2>/dev/null || { tail -n 20 "$logs/demo-appender.log"; echo "[demo] only ${count:-0} of $expected rows arrived" >&2; exit 1; }

echo
echo "[demo] npm run query -- \"SELECT service_name, severity, count(*) … GROUP BY ALL\""
node dist/cli/query.js "SELECT service_name, severity, count(*) AS records FROM logs WHERE attributes['demo.run'] = '$run_id' GROUP BY ALL ORDER BY service_name, severity"
echo
echo "[demo] npm run query -- \"SELECT … ORDER BY timestamp DESC LIMIT 5\""
node dist/cli/query.js "SELECT \"timestamp\", tenant_id, service_name, severity, body, attributes['http.route'] AS route FROM logs WHERE attributes['demo.run'] = '$run_id' ORDER BY \"timestamp\" DESC LIMIT 5"
echo
echo "[demo] $count rows of run $run_id are in the Iceberg table otel.logs. Query them yourself:"
echo "  eval \"\$(npm run --silent stack:env)\" && npm run query -- \"SELECT count(*) FROM logs\""
