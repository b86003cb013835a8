# shellcheck shell=bash
# Debian's prometheus package (apt-get), remote-write receiver on.
# Sourced by stack/stack.sh: prometheus_install, prometheus_start, prometheus_healthy, and the port and
# start-up budget below are all that stack.sh knows of it.

PROMETHEUS_PORT=${STACK_PROMETHEUS_PORT:-9090}
PROMETHEUS_SERVICE_PORT=$PROMETHEUS_PORT
PROMETHEUS_READY_SECONDS=60

prometheus_install() {
  command -v prometheus >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "prometheus is not installed and there is no apt-get to install it"
  [ "$(id -u)" = 0 ] || die "installing prometheus needs root (apt-get install prometheus)"
  log "installing Debian's prometheus package"
  mkdir -p "$LOGS"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) \
    >"$LOGS/install-prometheus.log" 2>&1 || { tail -n 20 "$LOGS/install-prometheus.log" >&2; die "apt-get install prometheus failed"; }
}

prometheus_start() {
  mkdir -p "$RUN/prometheus/data"
  printf 'global:\n  scrape_interval: 1h\nscrape_configs: []\n' >"$RUN/prometheus/prometheus.yml"
  spawn prometheus prometheus --config.file="$RUN/prometheus/prometheus.yml" \
    --storage.tsdb.path="$RUN/prometheus/data" --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    --web.enable-remote-write-receiver --storage.tsdb.retention.time=2d --log.level=warn
}

prometheus_healthy() { curl -sf -o /dev/null "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"; }
