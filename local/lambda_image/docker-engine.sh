#!/usr/bin/env bash
# A Docker engine for `make run-sam` and tests/sam_local. Where none answers, say how to get one; as root in CI
# (CI=true), install Debian's docker.io (and debootstrap, for the stand-in Lambda image) and start dockerd.
# Exits 0 when an engine answers, 1 otherwise.
set -uo pipefail

answers() { docker info >/dev/null 2>&1; }
answers && exit 0

if [ "$(id -u)" != 0 ] || [ "${CI:-}" != true ]; then
  if command -v dockerd >/dev/null; then
    echo "docker: the engine is installed but does not answer; start it: sudo dockerd &" >&2
  else
    echo "docker: no engine here; install and start it: sudo apt-get install docker.io debootstrap && sudo dockerd &" >&2
  fi
  exit 1
fi

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  echo "docker: installing docker.io and debootstrap from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq docker.io debootstrap >&2 || { echo "docker: apt-get install failed" >&2; exit 1; }
fi
LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
echo "docker: starting dockerd (log: $LOG)" >&2
nohup dockerd >"$LOG" 2>&1 &
for _ in $(seq 60); do
  answers && exit 0
  sleep 1
done
echo "docker: dockerd did not answer within 60 s; see $LOG" >&2
exit 1
