#!/usr/bin/env bash
# Installs the npm dependencies when they are missing or older than the lockfile, then builds;
# --node-only leaves out the maintainer's Java side (the demo does not run it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi
npm run --silent build >&2
[ "${1:-}" = --node-only ] || bash scripts/build-maintainer.sh
