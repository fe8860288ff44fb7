import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../src/adapters/sqlite/sqlite-store.js';
import { artifactKey, newSetId } from '../../../src/domain/layout.js';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const CLI = join(REPO, 'dist', 'src', 'cli-main.js');

let dir: string;

/** `drbot <args>` as its own process, on a config whose Docker engine is nowhere. */
function drbot(...args: string[]) {
  const res = spawnSync(process.execPath, [CLI, ...args], {
    cwd: dir,
    env: { ...process.env, DRBOT_CONFIG: join(dir, 'drbot.yaml'), LOG_LEVEL: 'warn', DOCKER_HOST: '' },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

beforeAll(() => {
  if (!existsSync(CLI))
    throw new Error('these tests run the built CLI: run `npm run build` first (npm test does)');
  dir = mkdtempSync(join(tmpdir(), 'drbot-cli-'));
  writeFileSync(join(dir, 'drbot.yaml'), 'state: ./state.sqlite\ndocker: { host: "tcp://127.0.0.1:9" }\n');
});

describe('drbot help', () => {
  it.each([['--help'], ['-h'], ['help']])(
    '`drbot %s` prints every command and the CLI’s own options',
    (flag) => {
      const res = drbot(flag);

      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr).toBe('');
      expect(res.stdout).toMatch(/^Usage: \/dr <command> \(in a terminal: drbot <command>\)/);
      expect(res.stdout).toMatch(/^ {2}restore full\|db-only\|<asset> .*\n {6}Disaster recovery/m);
      expect(res.stdout).toMatch(/--quiet, -q +no stage or progress lines/);
    },
  );

  it.each([
    ['help', 'restore'],
    ['restore', '--help'],
    ['restore', '-h'],
  ])('`drbot %s %s` prints that command’s usage, summary and options', (...args) => {
    const res = drbot(...args);

    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^Usage: \/dr restore full\|db-only\|<asset> /);
    expect(res.stdout).toMatch(/^ {3}or: drbot restore full\|db-only\|<asset> /m);
    expect(res.stdout).toMatch(/Disaster recovery: assess/);
    expect(res.stdout).toMatch(/^Options:\n {2}--from <set-id> +restore from this set/m);
    expect(res.stdout).toMatch(/^ {2}--yes +approve the plan/m);
  });

  it('keeps stdout to JSON alone with --json', () => {
    const res = drbot('--json', 'help', 'verify');

    expect(res.code, res.stderr).toBe(0);
    const answer = JSON.parse(res.stdout) as { ok: boolean; text: string };
    expect(answer.ok).toBe(true);
    expect(answer.text).toMatch(/^Usage: \/dr verify .*\n(.*\n)*Options:\n {2}--deep /);
  });

  it('refuses help on an unknown command with the list, exit 2', () => {
    const res = drbot('help', 'frobnicate');

    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^unknown command 'frobnicate'\n\nUsage: \/dr <command>/);
  });
});

/** A complete set of one small artifact in the local directory and in the state, as a backup leaves it. */
function seedSet(): string {
  const at = new Date();
  const setId = newSetId(at);
  const body = gzipSync(Buffer.alloc(4096, 'x'));
  const key = artifactKey(setId, at, 'files.tar.gz');
  const path = join(dir, 'backups', ...key.split('/'));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, body);
  const store = openSqliteStore(join(dir, 'state.sqlite'));
  try {
    const run = store.createRun({
      kind: 'backup',
      requester: 'test',
      target: 'all',
      status: 'succeeded',
      at,
    });
    store.createSet({ id: setId, runId: run.id, createdAt: at });
    const id = store.addArtifact({
      setId,
      asset: 'files',
      kind: 'volume-tar',
      file: 'files.tar.gz',
      compression: 'gzip',
      startedAt: at,
    });
    const sha256 = createHash('sha256').update(body).digest('hex');
    store.updateArtifact(id, { status: 'complete', size: body.length, sha256, endedAt: at });
    store.setLocation(id, { target: 'local', key, status: 'confirmed', confirmedAt: at });
    store.updateSet(setId, { status: 'complete', completedAt: at });
  } finally {
    store.close();
  }
  return setId;
}

describe('drbot while a run works (verify reads only the local directory: no Docker needed)', () => {
  it('prints each stage as it starts and ends, with its duration, on stderr', () => {
    const setId = seedSet();

    const res = drbot('verify', setId);

    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(new RegExp(`^run-\\d+: verify ${setId}$`, 'm'));
    expect(res.stderr).toMatch(/^→ checksums\n(.*\n)*✓ checksums \(\d+(ms|s)\)$/m);
    // Not a terminal (a pipe here): stage lines only, no cursor movement.
    expect(res.stderr).not.toContain('\x1b[');
    expect(res.stdout).toMatch(/files\s+files\.tar\.gz\s+local\s+ok/);
    expect(res.stdout).not.toMatch(/→ checksums/);
  });

  it('prints no stage lines with --quiet, and only JSON on stdout with --json', () => {
    const setId = seedSet();

    const quiet = drbot('verify', setId, '--quiet');
    const json = drbot('--json', 'verify', setId);

    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).not.toMatch(/checksums/);
    expect(quiet.stdout).toMatch(/files\.tar\.gz\s+local\s+ok/);
    expect(json.code, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as { ok: boolean }).ok).toBe(true);
    expect(json.stderr).toMatch(/^✓ checksums/m);
  });
});
