#!/usr/bin/env bash
# Builds the maintainer's Iceberg side: resolves the Apache Iceberg Java libraries from Maven
# Central (once per pom, into $OTEL_LAKEHOUSE_CACHE/maintainer/lib), compiles
# src/maintainer/java/IcebergMaintenance.java against them into dist/maintainer/classes, and
# links the jars to dist/maintainer/lib, where the maintainer looks by default.
# Needs a JDK 17+ and Maven. MAINTAINER_LIB_DIR puts the jars elsewhere (the container image).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${OTEL_LAKEHOUSE_CACHE:-$HOME/.cache/otel-lakehouse}
SRC=$ROOT/src/maintainer/java
LIB=${MAINTAINER_LIB_DIR:-$CACHE/maintainer/lib}
OUT=$ROOT/dist/maintainer

command -v javac >/dev/null || { echo "[maintainer] a JDK 17+ (javac) is required" >&2; exit 1; }
command -v mvn >/dev/null || { echo "[maintainer] Apache Maven (mvn) is required" >&2; exit 1; }

stamp="$LIB/.installed-$(sha256sum "$SRC/pom.xml" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "[maintainer] resolving the Apache Iceberg Java libraries into $LIB" >&2
  rm -rf "$LIB"
  mkdir -p "$LIB"
  log=$(mktemp)
  (cd "$SRC" && mvn -B -Dstyle.color=never dependency:copy-dependencies -DoutputDirectory="$LIB" -DincludeScope=runtime) >"$log" 2>&1 \
    || { tail -n 30 "$log" >&2; echo "[maintainer] maven could not resolve src/maintainer/java/pom.xml" >&2; exit 1; }
  rm -f "$log"
  touch "$stamp"
fi

mkdir -p "$OUT"
if [ ! -f "$OUT/classes/IcebergMaintenance.class" ] || [ "$SRC/IcebergMaintenance.java" -nt "$OUT/classes/IcebergMaintenance.class" ]; then
  rm -rf "$OUT/classes"
  javac -nowarn -d "$OUT/classes" -cp "$LIB/*" "$SRC/IcebergMaintenance.java"
fi
if [ "$LIB" != "$OUT/lib" ]; then ln -sfn "$LIB" "$OUT/lib"; fi
