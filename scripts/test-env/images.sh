#!/usr/bin/env bash
# Builds the images the integration tests need, offline from Debian packages (no registry is
# reachable): a busybox image, a MariaDB + PostgreSQL image, a Node.js base for the app image and
# moto's S3 server.
# Each is tagged with a hash of its recipe, so a rerun with an unchanged recipe reuses the image.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

docker info >/dev/null 2>&1 || die "no Docker engine answers; run scripts/test-env/docker-up.sh first"

recipe_hash() { cat "$@" | sha256sum | cut -c1-12; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

work=$(mktemp -d /tmp/drbot-images.XXXXXX)
trap 'rm -rf "$work"' EXIT

# busybox: the static binary from busybox-static, its applets as symlinks.
busybox_tag="drbot-test/busybox:$(recipe_hash "$0" "$here/lib.sh")"
if ! have_image "$busybox_tag"; then
  log "building $busybox_tag"
  # apt-get download needs package lists: refresh them once if the first try finds none.
  (cd "$work" && apt-get download busybox-static >/dev/null 2>&1) \
    || { apt-get update -qq >/dev/null && (cd "$work" && apt-get download busybox-static >/dev/null); } \
    || die "cannot download busybox-static with apt-get"
  mkdir -p "$work/bb"
  dpkg-deb -x "$work"/busybox-static_*.deb "$work/bb"
  root="$work/bb-root"
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/data" "$root/www"
  cp "$work/bb/bin/busybox" "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - "$busybox_tag" >/dev/null
fi
docker tag "$busybox_tag" drbot-test/busybox:latest

# database: a minbase debootstrap rootfs with MariaDB and PostgreSQL, plus our entrypoint.
db_tag="drbot-test/db:$(recipe_hash "$0" "$here/lib.sh" "$here/db-image/entrypoint.sh")"
if ! have_image "$db_tag"; then
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  mirror=$(apt_mirror); suite=$(debian_suite)
  log "building $db_tag: debootstrap $suite from the machine's apt mirror (about a minute)"
  root="$work/db-root"
  debootstrap --variant=minbase --include=mariadb-server,mariadb-client,postgresql,procps \
    "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (log tail above)"; }
  # The packages' own clusters and data dirs are not used: the entrypoint initialises fresh ones.
  rm -rf "$root"/var/lib/postgresql/* "$root"/var/lib/mysql/* "$root"/var/cache/apt/archives/*.deb
  install -m 0755 "$here/db-image/entrypoint.sh" "$root/usr/local/bin/drbot-test-db"
  tar -C "$root" -c . | docker import \
    -c 'ENTRYPOINT ["/usr/local/bin/drbot-test-db"]' \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
    - "$db_tag" >/dev/null
fi
docker tag "$db_tag" drbot-test/db:latest

# node: the base the app image (Dockerfile) is built on offline; its own script, which prints its tag.
node_tag=$(bash "$here/node-image.sh") || die "building the Node base image failed"
# moto: a fuller S3 API (Object Lock, lifecycle, tagging) from Debian trixie; prints its tag.
moto_tag=$(bash "$here/moto-image.sh") || die "building the moto S3 server image failed"
# Older recipes' images are dead weight (the DB image is ~700 MB): drop them.
for repo_tag in $(docker images --format '{{.Repository}}:{{.Tag}}' 'drbot-test/*'); do
  case "$repo_tag" in
    "$busybox_tag" | "$db_tag" | "$node_tag" | "$moto_tag" | *:latest) ;;
    *) docker rmi "$repo_tag" >/dev/null 2>&1 || true ;;
  esac
done
log "images ready: $busybox_tag $db_tag $node_tag $moto_tag"
