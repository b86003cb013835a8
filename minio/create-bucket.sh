#!/bin/sh
# Creates the warehouse bucket in MinIO (run by the minio-setup service of docker-compose.yml
# with the minio/mc image). Idempotent.
set -eu
: "${MINIO_URL:=http://minio:9000}"
: "${S3_ACCESS_KEY:?}" "${S3_SECRET_KEY:?}" "${S3_BUCKET:=warehouse}"
until mc alias set lake "$MINIO_URL" "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >/dev/null 2>&1; do
  echo "waiting for MinIO at $MINIO_URL"; sleep 1
done
mc mb --ignore-existing "lake/$S3_BUCKET"
echo "bucket $S3_BUCKET ready"
