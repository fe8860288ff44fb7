#!/usr/bin/env bash
# Builds drbot-test/moto: moto's S3 server (Object Lock, versioning, lifecycle, tagging, the
# Glacier restore calls s3rver lacks), offline from Debian packages like the other test images.
# PyPI is not reachable from the test machines, and bookworm has no moto: Debian trixie packages
# it (python3-moto, architecture all), so this image is a minbase debootstrap of trixie from the
# machine's own apt mirror. The tag is a hash of this recipe, so a rerun reuses the image.
# Prints the image's hash tag on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

docker info >/dev/null 2>&1 || die "no Docker engine answers; run scripts/test-env/docker-up.sh first"

# The suite moto is packaged in; the mirror is the machine's, so it must carry it too.
moto_suite=trixie
tag="drbot-test/moto:$(cat "$0" "$here/lib.sh" | sha256sum | cut -c1-12)"
if ! docker image inspect "$tag" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  [ -e "/usr/share/debootstrap/scripts/$moto_suite" ] \
    || die "this debootstrap cannot bootstrap $moto_suite; install a newer debootstrap"
  mirror=$(apt_mirror)
  work=$(mktemp -d /tmp/drbot-moto-image.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  root="$work/root"
  log "building $tag: debootstrap --variant=minbase $moto_suite (python3-moto) from the machine's apt mirror"
  # Bookworm's debian-archive-keyring carries trixie's signing keys: the release is checked.
  # debootstrap's own resolver does not follow every dependency of python3-moto (it stopped at
  # python3-cryptography), so the base system comes first and apt installs moto inside it.
  debootstrap --variant=minbase "$moto_suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap of $moto_suite failed (log tail above)"; }
  mount -t proc proc "$root/proc"
  trap 'umount "$root/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    python3-moto python3-flask python3-flask-cors python3-werkzeug python3-xmltodict >"$work/apt.log" 2>&1 \
    || { tail -n 30 "$work/apt.log" >&2; die "installing python3-moto in the $moto_suite rootfs failed (log tail above)"; }
  umount "$root/proc"
  rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* \
    "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/var/log/*.log "$root"/var/log/apt/*
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
    -c 'EXPOSE 5000' \
    -c 'CMD ["python3", "-m", "moto.server", "-H", "0.0.0.0", "-p", "5000"]' \
    - "$tag" >/dev/null
  docker run --rm "$tag" python3 -c 'import moto.server, flask_cors' \
    || { docker rmi "$tag" >/dev/null 2>&1 || true; die "$tag was built but moto's server does not import in it"; }
fi
docker tag "$tag" drbot-test/moto:latest
for repo_tag in $(docker images --format '{{.Repository}}:{{.Tag}}' drbot-test/moto); do
  case "$repo_tag" in
    "$tag" | *:latest) ;;
    *) docker rmi "$repo_tag" >/dev/null 2>&1 || true ;;
  esac
done
printf '%s\n' "$tag"
