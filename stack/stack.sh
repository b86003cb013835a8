#!/usr/bin/env bash
# The local stack for development and tests, from the package registries alone (no Docker):
#   kafka    Apache Kafka, single-node KRaft, from Maven Central
#   minio    MinIO built with `go install`, bucket created through the S3 API
#   iceberg  Apache Iceberg's REST catalog server (iceberg-open-api test fixtures) from Maven
#            Central, JDBC sqlite backing store, S3FileIO pointed at MinIO
#   duckdb   the iceberg, httpfs and avro DuckDB extensions from the matching PyPI wheels
#   prometheus  Debian's prometheus package (apt-get), remote-write receiver on
#   loki     Grafana Loki built from its Go module source (single binary, filesystem storage)
#   opensearch  OpenSearch server jars from Maven Central, one node started by a small launcher
# Everything is installed into $OTEL_LAKEHOUSE_CACHE (default ~/.cache/otel-lakehouse), reused
# when present, started on loopback, health-checked, and logged to $OTEL_LAKEHOUSE_CACHE/run/logs.
#
# usage: stack.sh install | up [service…] | down [service…] | status | env | logs SERVICE
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
CACHE=${OTEL_LAKEHOUSE_CACHE:-$HOME/.cache/otel-lakehouse}
RUN=$CACHE/run
LOGS=$RUN/logs

LOKI_MODULE=github.com/grafana/loki/v3
LOKI_VERSION=v3.7.8
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

KAFKA_PORT=${STACK_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${STACK_KAFKA_CONTROLLER_PORT:-9093}
MINIO_PORT=${STACK_MINIO_PORT:-9000}
MINIO_CONSOLE_PORT=${STACK_MINIO_CONSOLE_PORT:-9001}
ICEBERG_PORT=${STACK_ICEBERG_PORT:-8181}
S3_ACCESS_KEY=${STACK_S3_ACCESS_KEY:-lakehouse}
S3_SECRET_KEY=${STACK_S3_SECRET_KEY:-lakehouse-secret}
S3_BUCKET=${STACK_S3_BUCKET:-warehouse}
S3_REGION=us-east-1
PROMETHEUS_PORT=${STACK_PROMETHEUS_PORT:-9090}
OPENSEARCH_PORT=${STACK_OPENSEARCH_PORT:-9200}
OPENSEARCH_TRANSPORT_PORT=${STACK_OPENSEARCH_TRANSPORT_PORT:-9300}
LOKI_PORT=${STACK_LOKI_PORT:-3100}
LOKI_GRPC_PORT=${STACK_LOKI_GRPC_PORT:-9095}
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

install_minio() {
  local bin="$CACHE/minio/bin/minio" stamp="$CACHE/minio/.installed-$MINIO_VERSION"
  [ -x "$bin" ] && [ -f "$stamp" ] && return 0
  need go "the Go toolchain"
  log "building MinIO $MINIO_VERSION with go install (first time only; takes a few minutes)"
  mkdir -p "$CACHE/minio/bin"
  rm -f "$CACHE/minio"/.installed-*
  mkdir -p "$LOGS"
  GOBIN="$CACHE/minio/bin" CGO_ENABLED=0 GOFLAGS=-trimpath \
    go install "$MINIO_MODULE@$MINIO_VERSION" >"$LOGS/install-minio.log" 2>&1 \
    || { tail -n 30 "$LOGS/install-minio.log" >&2; die "go install of MinIO failed (log: $LOGS/install-minio.log)"; }
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

install_prometheus() {
  command -v prometheus >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "prometheus is not installed and there is no apt-get to install it"
  [ "$(id -u)" = 0 ] || die "installing prometheus needs root (apt-get install prometheus)"
  log "installing Debian's prometheus package"
  mkdir -p "$LOGS"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) \
    >"$LOGS/install-prometheus.log" 2>&1 || { tail -n 20 "$LOGS/install-prometheus.log" >&2; die "apt-get install prometheus failed"; }
}

# Loki's go.mod replaces its nested pkg/push module with ./pkg/push, which the module zip
# leaves out, and replace directives only apply in the main module: so the module source is
# copied to a writable tree, pkg/push is put back from its own module, and Loki is built there.
install_loki() {
  local bin="$CACHE/loki/bin/loki" stamp="$CACHE/loki/.installed-$LOKI_VERSION"
  [ -x "$bin" ] && [ -f "$stamp" ] && return 0
  need go "the Go toolchain"
  log "building Loki $LOKI_VERSION from its module source (first time only; takes several minutes)"
  mkdir -p "$CACHE/loki/bin" "$LOGS"
  rm -f "$CACHE/loki"/.installed-*
  local src="$CACHE/loki/src"
  (
    set -e
    export GOFLAGS=-mod=mod
    dir=$(go mod download -json "$LOKI_MODULE@$LOKI_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
    push=$(awk '$1 == "github.com/grafana/loki/pkg/push" && NF == 2 { print $2 }' "$src/go.mod" | head -n1)
    pdir=$(go mod download -json "github.com/grafana/loki/pkg/push@$push" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    mkdir -p "$src/pkg/push" && cp -r "$pdir/." "$src/pkg/push/" && chmod -R u+w "$src/pkg/push"
    cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$bin" ./cmd/loki
  ) >"$LOGS/install-loki.log" 2>&1 || { tail -n 30 "$LOGS/install-loki.log" >&2; die "building Loki failed (log: $LOGS/install-loki.log)"; }
  rm -rf "$src"
  touch "$stamp"
}

# OpenSearch 3 needs Java 21 or newer: the first such JDK in OPENSEARCH_JAVA_HOME, JAVA_HOME or
# /usr/lib/jvm (machines of this kind carry a Temurin JDK beside OpenJDK 17).
opensearch_java_home() {
  local j v
  for j in "${OPENSEARCH_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/*; do
    [ -n "$j" ] && [ -x "$j/bin/java" ] && [ -x "$j/bin/javac" ] || continue
    v=$("$j/bin/java" -version 2>&1 | awk -F'"' '/version/ { split($2, a, "."); print a[1]; exit }')
    [ "${v:-0}" -ge 21 ] 2>/dev/null && { echo "$j"; return 0; }
  done
  return 1
}

install_opensearch() {
  install_maven opensearch
  local classes="$CACHE/opensearch/classes" src="$HERE/opensearch/EmbeddedOpenSearch.java" jdk
  local stamp="$classes/.built-$(digest "$src")"
  [ -f "$stamp" ] && return 0
  jdk=$(opensearch_java_home) || die "OpenSearch needs a JDK 21 or newer: set OPENSEARCH_JAVA_HOME"
  rm -rf "$classes" && mkdir -p "$classes"
  "$jdk/bin/javac" -cp "$CACHE/opensearch/lib/*" -d "$classes" "$src" || die "compiling the OpenSearch launcher failed"
  touch "$stamp"
}

# The REST catalog runs through a small launcher that serializes its changes (see the comment
# in stack/iceberg/SerialCommitCatalogServer.java): compiled once per source version.
install_iceberg() {
  install_maven iceberg-rest
  local classes="$CACHE/iceberg-rest/classes" src="$HERE/iceberg/SerialCommitCatalogServer.java"
  local stamp="$classes/.built-$(digest "$src")"
  [ -f "$stamp" ] && return 0
  rm -rf "$classes" && mkdir -p "$classes"
  javac -cp "$CACHE/iceberg-rest/lib/*" -d "$classes" "$src" || die "compiling the REST catalog launcher failed"
  touch "$stamp"
}

install_for() { # service
  case "$1" in
    prometheus) install_prometheus ;;
    loki) install_loki ;;
    opensearch) install_opensearch ;;
    kafka) install_maven kafka ;;
    iceberg) install_iceberg ;;
    minio) install_minio ;;
    *) die "unknown service '$1' (known: ${SERVICES[*]})" ;;
  esac
}

cmd_install() {
  install_prometheus
  install_maven kafka
  install_iceberg
  install_minio
  install_loki
  install_opensearch
  install_duckdb_extensions
}

# ---------------------------------------------------------------- processes

pidfile() { echo "$RUN/$1.pid"; }
running() { # name
  local f; f=$(pidfile "$1")
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

healthy() { # name
  case "$1" in
    kafka) port_open "$KAFKA_PORT" && grep -q 'Transition from STARTING to STARTED' "$LOGS/kafka.log" 2>/dev/null ;;
    minio) curl -sf -o /dev/null "http://127.0.0.1:$MINIO_PORT/minio/health/ready" ;;
    iceberg) curl -sf -o /dev/null "http://127.0.0.1:$ICEBERG_PORT/v1/config" ;;
    prometheus) curl -sf -o /dev/null "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" ;;
    loki) curl -sf -o /dev/null "http://127.0.0.1:$LOKI_PORT/ready" ;;
    opensearch) curl -sf -o /dev/null "http://127.0.0.1:$OPENSEARCH_PORT/_cluster/health?wait_for_status=yellow&timeout=1s" ;;
  esac
}

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

start_kafka() {
  local dir="$RUN/kafka" cfg="$RUN/kafka/server.properties"
  mkdir -p "$dir/data"
  cat >"$cfg" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
message.max.bytes=8388608
EOF
  cat >"$dir/log4j2.properties" <<'EOF'
status = error
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRefs = stdout
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.server.name = kafka.server.KafkaServer
logger.server.level = INFO
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
EOF
  local java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$dir/log4j2.properties" -cp "$CACHE/kafka/lib/*")
  if [ ! -f "$dir/data/meta.properties" ]; then
    java "${java_opts[@]}" kafka.tools.StorageTool format -t "otel-lakehouse-local-01" -c "$cfg" \
      >"$LOGS/kafka-format.log" 2>&1 || { cat "$LOGS/kafka-format.log" >&2; die "kafka storage format failed"; }
  fi
  spawn kafka java "${java_opts[@]}" kafka.Kafka "$cfg"
}

start_minio() {
  mkdir -p "$RUN/minio/data"
  MINIO_ROOT_USER=$S3_ACCESS_KEY MINIO_ROOT_PASSWORD=$S3_SECRET_KEY MINIO_BROWSER=off \
    MINIO_UPDATE=off MINIO_CI_CD=1 \
    spawn minio "$CACHE/minio/bin/minio" server "$RUN/minio/data" \
      --address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$MINIO_CONSOLE_PORT" --quiet
}

create_bucket() {
  # PUT Bucket through the S3 API with SigV4 (curl signs it); 409 means it already exists.
  local code
  code=$(curl -s -o "$RUN/minio/bucket.out" -w '%{http_code}' -X PUT \
    --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    "http://127.0.0.1:$MINIO_PORT/$S3_BUCKET")
  case "$code" in
    200|409) ;;
    *) cat "$RUN/minio/bucket.out" >&2; die "creating bucket $S3_BUCKET failed with HTTP $code" ;;
  esac
}

start_iceberg() {
  mkdir -p "$RUN/iceberg"
  CATALOG_URI="jdbc:sqlite:$RUN/iceberg/catalog.db?busy_timeout=30000" \
  CATALOG_CLIENTS=1 \
  CATALOG_JDBC_SCHEMA__VERSION=V1 \
  CATALOG_WAREHOUSE="s3://$S3_BUCKET/" \
  CATALOG_IO__IMPL=org.apache.iceberg.aws.s3.S3FileIO \
  CATALOG_S3_ENDPOINT="http://127.0.0.1:$MINIO_PORT" \
  CATALOG_S3_PATH__STYLE__ACCESS=true \
  CATALOG_S3_ACCESS__KEY__ID=$S3_ACCESS_KEY \
  CATALOG_S3_SECRET__ACCESS__KEY=$S3_SECRET_KEY \
  CATALOG_CLIENT_REGION=$S3_REGION \
  AWS_REGION=$S3_REGION AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY \
  CATALOG_REST_PORT=$ICEBERG_PORT \
    spawn iceberg java -Xms128m -Xmx768m -Djava.awt.headless=true \
      -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
      -cp "$CACHE/iceberg-rest/classes:$CACHE/iceberg-rest/lib/*" org.apache.iceberg.rest.SerialCommitCatalogServer
}

start_prometheus() {
  mkdir -p "$RUN/prometheus/data"
  printf 'global:\n  scrape_interval: 1h\nscrape_configs: []\n' >"$RUN/prometheus/prometheus.yml"
  spawn prometheus prometheus --config.file="$RUN/prometheus/prometheus.yml" \
    --storage.tsdb.path="$RUN/prometheus/data" --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    --web.enable-remote-write-receiver --storage.tsdb.retention.time=2d --log.level=warn
}

start_loki() {
  local dir="$RUN/loki"
  mkdir -p "$dir"
  cat >"$dir/loki.yaml" <<EOF
auth_enabled: true
server:
  http_listen_address: 127.0.0.1
  http_listen_port: $LOKI_PORT
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: $LOKI_GRPC_PORT
  log_level: warn
common:
  instance_addr: 127.0.0.1
  path_prefix: $dir
  storage:
    filesystem:
      chunks_directory: $dir/chunks
      rules_directory: $dir/rules
  replication_factor: 1
  ring:
    kvstore:
      store: inmemory
schema_config:
  configs:
    - from: 2024-01-01
      store: tsdb
      object_store: filesystem
      schema: v13
      index:
        prefix: index_
        period: 24h
limits_config:
  allow_structured_metadata: true
  reject_old_samples: false
query_scheduler:
  max_outstanding_requests_per_tenant: 2048
frontend:
  address: 127.0.0.1
memberlist:
  bind_addr: [127.0.0.1]
analytics:
  reporting_enabled: false
EOF
  spawn loki "$CACHE/loki/bin/loki" -config.file="$dir/loki.yaml"
}

start_opensearch() {
  local jdk
  jdk=$(opensearch_java_home) || die "OpenSearch needs a JDK 21 or newer: set OPENSEARCH_JAVA_HOME"
  mkdir -p "$RUN/opensearch"
  spawn opensearch "$jdk/bin/java" -Xms512m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
    --enable-native-access=ALL-UNNAMED -Dlog4j2.disable.jmx=true \
    -cp "$CACHE/opensearch/classes:$CACHE/opensearch/lib/*" EmbeddedOpenSearch \
    "$RUN/opensearch" "$OPENSEARCH_PORT" "$OPENSEARCH_TRANSPORT_PORT"
}

start_one() { # name
  local name=$1 t0=$SECONDS
  if running "$name" && healthy "$name"; then log "$name already running"; return 0; fi
  running "$name" && stop_one "$name"
  case "$name" in
    kafka) port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process"; start_kafka; wait_healthy kafka 90 ;;
    minio) port_open "$MINIO_PORT" && die "port $MINIO_PORT is taken by another process"; start_minio; wait_healthy minio 60; create_bucket ;;
    iceberg) port_open "$ICEBERG_PORT" && die "port $ICEBERG_PORT is taken by another process"; start_iceberg; wait_healthy iceberg 90 ;;
    prometheus) port_open "$PROMETHEUS_PORT" && die "port $PROMETHEUS_PORT is taken by another process"; start_prometheus; wait_healthy prometheus 60 ;;
    loki) port_open "$LOKI_PORT" && die "port $LOKI_PORT is taken by another process"; start_loki; wait_healthy loki 120 ;;
    opensearch) port_open "$OPENSEARCH_PORT" && die "port $OPENSEARCH_PORT is taken by another process"; start_opensearch; wait_healthy opensearch 120 ;;
    *) die "unknown service '$name' (known: ${SERVICES[*]})" ;;
  esac
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
  local t0=$SECONDS names=("$@")
  [ ${#names[@]} -gt 0 ] || names=("${SERVICES[@]}")
  mkdir -p "$RUN" "$LOGS"
  local n
  for n in "${names[@]}"; do install_for "$n"; done
  install_duckdb_extensions
  for n in "${names[@]}"; do start_one "$n"; done
  log "stack up in $((SECONDS - t0)) s; logs in $LOGS"
}

cmd_down() {
  local names=("$@") i
  [ ${#names[@]} -gt 0 ] || names=(opensearch loki prometheus iceberg minio kafka)
  for i in "${names[@]}"; do stop_one "$i"; done
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
  up) shift; cmd_up "$@"; cmd_env ;;
  down) shift; cmd_down "$@" ;;
  status) cmd_status ;;
  env) cmd_env ;;
  logs) [ -n "${2:-}" ] || die "usage: stack.sh logs SERVICE"; tail -n 100 "$LOGS/$2.log" ;;
  *) echo "usage: stack.sh install | install-peer | up [service…] | down [service…] | status | env | logs SERVICE" >&2; exit 2 ;;
esac
