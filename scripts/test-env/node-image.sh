#!/usr/bin/env bash
# Builds drbot-test/node: a local stand-in for the official Node.js base image, so the app
# image (Dockerfile, `--build-arg NODE_IMAGE=drbot-test/node:latest`) builds without any
# registry. It is a minbase debootstrap of this machine's Debian suite, from the machine's apt
# mirror, with igzip (package isal) and age (package age), which the Dockerfile installs when the
# base lacks them, plus this host's own `node` and npm. Being the host's node, it runs modules the host compiled
# (better-sqlite3 is a native addon tied to node's ABI). The tag is a hash of this
# recipe and of the node binary, so a rerun with nothing changed reuses the image.
# Prints the image's hash tag on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

docker info >/dev/null 2>&1 || die "no Docker engine answers; run scripts/test-env/docker-up.sh first"

node_bin=$(readlink -f "$(command -v node)") || die "no node on PATH"
npm_cli=$(readlink -f "$(command -v npm)") || die "no npm on PATH"
npm_dir=$(dirname "$(dirname "$npm_cli")") # …/node_modules/npm/bin/npm-cli.js → …/node_modules/npm
[ -f "$npm_dir/package.json" ] || die "cannot find npm's package directory from $npm_cli"

tag="drbot-test/node:$(cat "$0" "$here/lib.sh" "$node_bin" "$npm_dir/package.json" | sha256sum | cut -c1-12)"
if ! docker image inspect "$tag" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  mirror=$(apt_mirror); suite=$(debian_suite)
  work=$(mktemp -d /tmp/drbot-node-image.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  root="$work/root"
  log "building $tag: debootstrap --variant=minbase $suite from the machine's apt mirror, node $("$node_bin" -v)"
  debootstrap --variant=minbase --include=isal,age "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (log tail above)"; }
  # Same layout as the official image: node and npm under /usr/local.
  install -m 0755 "$node_bin" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  # Every shared library node links against must be in the rootfs (the suite is the host's own,
  # so these are the same packages' files).
  for lib in $(ldd "$node_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'); do
    [ -e "$root$lib" ] || die "$lib, which $node_bin needs, is not in the $suite minbase rootfs"
  done
  # What an image does not need: docs, manpages, locales, apt's downloaded lists and packages.
  rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* \
    "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/var/log/*.log "$root"/var/log/apt/*
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
    -c 'CMD ["node"]' \
    - "$tag" >/dev/null
  docker run --rm "$tag" sh -c 'node -e "process.exit(0)" && npm --version >/dev/null' \
    || { docker rmi "$tag" >/dev/null 2>&1 || true; die "$tag was built but node or npm does not run in it"; }
fi
docker tag "$tag" drbot-test/node:latest
# Older recipes' base images are dead weight: drop their tags (an image still in use stays).
for repo_tag in $(docker images --format '{{.Repository}}:{{.Tag}}' drbot-test/node); do
  case "$repo_tag" in
    "$tag" | *:latest) ;;
    *) docker rmi "$repo_tag" >/dev/null 2>&1 || true ;;
  esac
done
log "node base image ready: $tag ($(docker run --rm "$tag" node -v))"
printf '%s\n' "$tag"
