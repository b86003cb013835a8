# shellcheck shell=bash
# MinIO built with `go install` from the Go module proxy; the bucket is created through the S3 API.
# Sourced by stack/stack.sh: minio_install, minio_start, minio_healthy, and the port and
# start-up budget below are all that stack.sh knows of it.

MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_PORT=${STACK_MINIO_PORT:-9000}
MINIO_CONSOLE_PORT=${STACK_MINIO_CONSOLE_PORT:-9001}
MINIO_SERVICE_PORT=$MINIO_PORT
MINIO_READY_SECONDS=60

minio_install() {
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

minio_start() {
  mkdir -p "$RUN/minio/data"
  MINIO_ROOT_USER=$S3_ACCESS_KEY MINIO_ROOT_PASSWORD=$S3_SECRET_KEY MINIO_BROWSER=off \
    MINIO_UPDATE=off MINIO_CI_CD=1 \
    spawn minio "$CACHE/minio/bin/minio" server "$RUN/minio/data" \
      --address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$MINIO_CONSOLE_PORT" --quiet
}

minio_started() {
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

minio_healthy() { curl -sf -o /dev/null "http://127.0.0.1:$MINIO_PORT/minio/health/ready"; }
