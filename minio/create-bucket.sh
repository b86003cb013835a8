#!/bin/sh
# Creates the warehouse bucket in MinIO (run by the minio-setup service of docker-compose.yml
# with the minio/mc image, or with any image that has curl). Idempotent.
set -eu
: "${MINIO_URL:=http://minio:9000}"
: "${S3_ACCESS_KEY:?}" "${S3_SECRET_KEY:?}" "${S3_BUCKET:=warehouse}" "${S3_REGION:=us-east-1}"
if command -v mc >/dev/null 2>&1; then
  until mc alias set lake "$MINIO_URL" "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >/dev/null 2>&1; do
    echo "waiting for MinIO at $MINIO_URL"; sleep 1
  done
  mc mb --ignore-existing "lake/$S3_BUCKET"
else
  # PUT Bucket, signed with SigV4 by curl: 200 created, 409 already there.
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --aws-sigv4 "aws:amz:$S3_REGION:s3" \
      --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" "$MINIO_URL/$S3_BUCKET" || true)
    case "$code" in 200|409) break ;; esac
    echo "waiting for MinIO at $MINIO_URL (HTTP $code)"; sleep 1
  done
fi
echo "bucket $S3_BUCKET ready"
