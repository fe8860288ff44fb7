#!/usr/bin/env bash
# The whole test suite on a fresh machine: host tools (igzip), Docker engine, offline images,
# build, then every unit and integration test (S3 runs in-process per test file). `.ci/run`
# calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/test-env/host-tools.sh
bash scripts/test-env/docker-up.sh
bash scripts/test-env/images.sh
npm run --silent typecheck
npx biome lint --error-on-warnings . >/dev/null || npx biome lint .
npm run --silent build
npx vitest run "$@"
