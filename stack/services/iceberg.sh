# shellcheck shell=bash
# Apache Iceberg's REST catalog server (iceberg-open-api test fixtures) from Maven Central, JDBC
# sqlite backing store, S3FileIO pointed at MinIO, started by SerialCommitCatalogServer.
# Sourced by stack/stack.sh: iceberg_install, iceberg_start, iceberg_healthy, and the port and
# start-up budget below are all that stack.sh knows of it.

ICEBERG_PORT=${STACK_ICEBERG_PORT:-8181}
ICEBERG_SERVICE_PORT=$ICEBERG_PORT
ICEBERG_READY_SECONDS=90

# The REST catalog runs through a small launcher that serializes its changes (see the comment
# in stack/iceberg/SerialCommitCatalogServer.java): compiled once per source version.
iceberg_install() {
  install_maven iceberg-rest
  local classes="$CACHE/iceberg-rest/classes" src="$HERE/iceberg/SerialCommitCatalogServer.java"
  local stamp="$classes/.built-$(digest "$src")"
  [ -f "$stamp" ] && return 0
  rm -rf "$classes" && mkdir -p "$classes"
  javac -cp "$CACHE/iceberg-rest/lib/*" -d "$classes" "$src" || die "compiling the REST catalog launcher failed"
  touch "$stamp"
}

iceberg_start() {
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

iceberg_healthy() { curl -sf -o /dev/null "http://127.0.0.1:$ICEBERG_PORT/v1/config"; }
