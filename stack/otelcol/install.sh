# shellcheck shell=bash
# The OpenTelemetry Collector of the tests, built once with the Collector builder from the Go
# module proxy (stack/otelcol/builder-config.yaml). Not a service of `stack.sh up`: tests start
# their own Collector processes with the configurations in stack/otelcol/. Sourced by
# stack/stack.sh for `stack.sh install-otelcol`, which prints the binary's path.

OTELCOL_BUILDER_VERSION=v0.165.0

otelcol_install() {
  local manifest="$HERE/otelcol/builder-config.yaml"
  local dest="$CACHE/otelcol" stamp
  stamp="$dest/.installed-$OTELCOL_BUILDER_VERSION-$(digest "$manifest")"
  if [ -x "$dest/otelcol-lakehouse" ] && [ -f "$stamp" ]; then
    echo "$dest/otelcol-lakehouse"
    return 0
  fi
  need go "the Go toolchain"
  log "building the OpenTelemetry Collector with the builder $OTELCOL_BUILDER_VERSION (first time only; takes several minutes)"
  mkdir -p "$dest" "$LOGS"
  rm -f "$dest"/.installed-*
  (
    set -e
    GOBIN="$dest/builder" go install "go.opentelemetry.io/collector/cmd/builder@$OTELCOL_BUILDER_VERSION"
    rm -rf "$dest/build"
    "$dest/builder/builder" --config "$manifest" --output-path "$dest/build"
    mv "$dest/build/otelcol-lakehouse" "$dest/otelcol-lakehouse"
  ) >"$LOGS/install-otelcol.log" 2>&1 || { tail -n 30 "$LOGS/install-otelcol.log" >&2; die "building the Collector failed (log: $LOGS/install-otelcol.log)"; }
  rm -rf "$dest/build"
  touch "$stamp"
  echo "$dest/otelcol-lakehouse"
}
