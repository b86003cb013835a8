#!/usr/bin/env bash
# Installs pyiceberg (test/engines/requirements.txt) into a virtualenv in the stack's cache, once
# per requirements file, and prints the path of its python.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
CACHE=${OTEL_LAKEHOUSE_CACHE:-$HOME/.cache/otel-lakehouse}
key=$(sha256sum requirements.txt | cut -c1-12)
venv="$CACHE/pyiceberg-$key"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.installed" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt >&2
  touch "$venv/.installed"
fi
echo "$venv/bin/python"
