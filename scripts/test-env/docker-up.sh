#!/usr/bin/env bash
# Makes sure a Docker engine answers. On a fresh Debian machine (as root) it installs docker.io
# and starts dockerd in the background; anywhere else it fails with what to do.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if docker info >/dev/null 2>&1; then exit 0; fi

if ! command -v dockerd >/dev/null 2>&1; then
  apt_install docker.io iptables
fi
is_root || die "docker info fails and we are not root: start a Docker engine (or set DOCKER_HOST) and retry"

log "starting dockerd in the background (log: /var/log/drbot-test-dockerd.log)"
# containerd is started by dockerd itself when no system containerd runs.
nohup dockerd >/var/log/drbot-test-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then log "docker engine is up"; exit 0; fi
  sleep 1
done
tail -n 30 /var/log/drbot-test-dockerd.log >&2 || true
die "dockerd did not answer within 60 s (see the log tail above)"
