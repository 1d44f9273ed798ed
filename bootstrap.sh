#!/usr/bin/env bash
# cartbench set-up and entry point. Idempotent: a second run only checks its caches.
#
#   ./bootstrap.sh run  [bench run options]   install everything, then `bench run --target all`
#   ./bootstrap.sh test [pytest options]      install everything, lint + type check, then the whole test suite
#   ./bootstrap.sh install                    install only
#
# Installs: system packages via apt (PostgreSQL, Redis, Java 17, Maven, Chromium, Docker engine,
# debootstrap), Cassandra's jars via Maven into ~/.cache/cartbench, and cartbench itself into
# ./.venv. Needs root or sudo for apt.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
ROOT=$PWD

say() { printf '\033[1m[bootstrap %s]\033[0m %s\n' "$(date +%H:%M:%S)" "$*"; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(python3 python3-venv python3-pip postgresql redis-server redis-tools
  openjdk-17-jre-headless maven util-linux procps iproute2
  chromium chromium-driver docker.io debootstrap ca-certificates)

install_system() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "system packages: all present"
    return
  fi
  say "system packages: installing ${missing[*]}"
  $SUDO apt-get update -q
  # Debian's postgresql package wants to start a cluster; on machines without an init system
  # that fails harmlessly. cartbench runs its own server on a free port.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
}

install_python() {
  local stamp=.venv/.cartbench-stamp
  local want
  want=$(sha256sum pyproject.toml | cut -c1-16)
  if [ -x .venv/bin/bench ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    say "python environment: up to date (.venv)"
    return
  fi
  say "python environment: creating .venv and installing cartbench with pinned dependencies"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q --progress-bar off -e ".[dev]"
  echo "$want" > "$stamp"
}

install_cassandra() {
  say "cassandra: resolving jars from Maven Central (cached after the first run)"
  ./setup/fetch-cassandra.sh
}

install_all() {
  install_system
  install_python
  install_cassandra
  say "installed: $(.venv/bin/bench --version)"
}

cmd=${1:-}
shift || true
case "$cmd" in
  install)
    install_all
    ;;
  run)
    install_all
    say "running: bench run --target all $*"
    exec .venv/bin/bench run --target all "$@"
    ;;
  test)
    install_all
    if [ "${CARTBENCH_SKIP_DOCKER:-0}" != "1" ] && [ -x setup/start-dockerd.sh ]; then
      say "docker: starting the engine and building offline images (cached)"
      ./setup/start-dockerd.sh
      ./setup/build-images.sh
    fi
    say "checks: ruff check . && mypy (strict)"
    .venv/bin/ruff check .
    .venv/bin/mypy
    say "running: pytest $*"
    exec .venv/bin/pytest "$@"
    ;;
  *)
    echo "usage: ./bootstrap.sh run [bench run options] | test [pytest options] | install" >&2
    exit 2
    ;;
esac
