# shellcheck shell=bash
# OpenSearch server jars from Maven Central, one node started by a small launcher (JDK 21+).
# Sourced by stack/stack.sh: opensearch_install, opensearch_start, opensearch_healthy, and the port and
# start-up budget below are all that stack.sh knows of it.

OPENSEARCH_PORT=${STACK_OPENSEARCH_PORT:-9200}
OPENSEARCH_TRANSPORT_PORT=${STACK_OPENSEARCH_TRANSPORT_PORT:-9300}
OPENSEARCH_SERVICE_PORT=$OPENSEARCH_PORT
OPENSEARCH_READY_SECONDS=120

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

opensearch_install() {
  install_maven opensearch
  local classes="$CACHE/opensearch/classes" src="$HERE/opensearch/EmbeddedOpenSearch.java" jdk
  local stamp="$classes/.built-$(digest "$src")"
  [ -f "$stamp" ] && return 0
  jdk=$(opensearch_java_home) || die "OpenSearch needs a JDK 21 or newer: set OPENSEARCH_JAVA_HOME"
  rm -rf "$classes" && mkdir -p "$classes"
  "$jdk/bin/javac" -cp "$CACHE/opensearch/lib/*" -d "$classes" "$src" || die "compiling the OpenSearch launcher failed"
  touch "$stamp"
}

opensearch_start() {
  local jdk
  jdk=$(opensearch_java_home) || die "OpenSearch needs a JDK 21 or newer: set OPENSEARCH_JAVA_HOME"
  mkdir -p "$RUN/opensearch"
  spawn opensearch "$jdk/bin/java" -Xms512m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
    --enable-native-access=ALL-UNNAMED -Dlog4j2.disable.jmx=true \
    -cp "$CACHE/opensearch/classes:$CACHE/opensearch/lib/*" EmbeddedOpenSearch \
    "$RUN/opensearch" "$OPENSEARCH_PORT" "$OPENSEARCH_TRANSPORT_PORT"
}

opensearch_healthy() { curl -sf -o /dev/null "http://127.0.0.1:$OPENSEARCH_PORT/_cluster/health?wait_for_status=yellow&timeout=1s"; }
