#!/usr/bin/env bash
# Host tools the suite needs besides Docker:
#  - igzip (Intel ISA-L, Debian package `isal`), the gzip drbot uses when it is installed. Without
#    it drbot falls back to Node's zlib, but the tests of the igzip path must fail rather than
#    skip, so the test machine gets it here.
#  - restic, one of the contenders of `npm run bench`, whose smoke test runs in the suite.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

command -v igzip >/dev/null 2>&1 || apt_install isal
igzip --version >/dev/null 2>&1 || die "igzip is installed but does not run"
log "igzip ready: $(igzip --version 2>&1 | head -n 1)"

command -v restic >/dev/null 2>&1 || apt_install restic
restic version >/dev/null 2>&1 || die "restic is installed but does not run"
log "restic ready: $(restic version 2>&1 | head -n 1)"

# age (Debian package `age`), the reference implementation of the age format: the encryption
# tests decrypt drbot's artifacts with it by hand (`age -d -i key | gunzip | mariadb`), and drbot
# encrypts and decrypts through it when it is installed (faster than the JavaScript one).
command -v age >/dev/null 2>&1 && command -v age-keygen >/dev/null 2>&1 || apt_install age
age --version >/dev/null 2>&1 || die "age is installed but does not run"
log "age ready: $(age --version 2>&1 | head -n 1)"
