import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Integration tests need the real Docker engine, the offline-built images and the compiled
 * CLI. `npm test` (scripts/test.sh) brings them up; when something is missing the suite fails
 * here with what to do — it never skips.
 */
export default function setup(): void {
  const repo = resolve(import.meta.dirname, '..', '..');
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(
      `integration tests need a Docker engine and none answers (docker info failed: ${(err as Error).message.split('\n')[0]}). Run them with \`npm test\`, which starts one.`,
    );
  }
  for (const image of ['drbot-test/busybox:latest', 'drbot-test/db:latest', 'drbot-test/moto:latest']) {
    try {
      execFileSync('docker', ['image', 'inspect', image], { stdio: 'pipe' });
    } catch {
      throw new Error(
        `integration tests need the image ${image}; build it with scripts/test-env/images.sh (npm test does)`,
      );
    }
  }
  // Fixtures are labelled `drbot.fixture=<suite>`; leftovers of an earlier, interrupted run (or
  // of a benchmark) would show up in every inventory, so they go before the suite starts.
  // Every container first: a leftover anchor container holds a fixture volume, which cannot be
  // removed while any container uses it.
  const labels = ['drbot.fixture', 'drbot.scratch', 'drbot.anchor'];
  for (const label of labels) {
    const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=${label}`])
      .toString()
      .split('\n')
      .filter(Boolean);
    if (ids.length) execFileSync('docker', ['rm', '-f', '-v', ...ids], { stdio: 'pipe' });
  }
  for (const label of labels) {
    const vols = execFileSync('docker', ['volume', 'ls', '-q', '--filter', `label=${label}`])
      .toString()
      .split('\n')
      .filter(Boolean);
    if (vols.length) execFileSync('docker', ['volume', 'rm', '-f', ...vols], { stdio: 'pipe' });
  }
  if (!existsSync(join(repo, 'dist', 'src', 'cli-main.js'))) {
    throw new Error('integration tests run the built CLI; run `npm run build` first (npm test does)');
  }
}
