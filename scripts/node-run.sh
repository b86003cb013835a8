#!/usr/bin/env bash
# Runs `node ARGS…` on the Node.js the product supports (scripts/node.sh): the benches measure it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/node.sh"
exec node "$@"
