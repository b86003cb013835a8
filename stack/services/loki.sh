# shellcheck shell=bash
# Grafana Loki built from its Go module source (single binary, filesystem storage, multi-tenant).
# Sourced by stack/stack.sh: loki_install, loki_start, loki_healthy, and the port and
# start-up budget below are all that stack.sh knows of it.

LOKI_MODULE=github.com/grafana/loki/v3
LOKI_VERSION=v3.7.8
LOKI_PORT=${STACK_LOKI_PORT:-3100}
LOKI_GRPC_PORT=${STACK_LOKI_GRPC_PORT:-9095}
LOKI_SERVICE_PORT=$LOKI_PORT
LOKI_READY_SECONDS=120

# Loki's go.mod replaces its nested pkg/push module with ./pkg/push, which the module zip
# leaves out, and replace directives only apply in the main module: so the module source is
# copied to a writable tree, pkg/push is put back from its own module, and Loki is built there.
loki_install() {
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

loki_start() {
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

loki_healthy() { curl -sf -o /dev/null "http://127.0.0.1:$LOKI_PORT/ready"; }
