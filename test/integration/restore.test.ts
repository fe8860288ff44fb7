import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drbot, type Workspace, workspace } from '../fixtures/cli.js';
import { docker, execIn } from '../fixtures/docker.js';
import { BUSYBOX_IMAGE } from '../fixtures/images.js';
import { type S3Server, startS3 } from '../fixtures/s3.js';
import {
  createSeed,
  mysqlFingerprint,
  postgresFingerprint,
  type Seed,
  teardownSeed,
  volumeHashes,
} from '../fixtures/seed.js';
import { copyStatuses } from '../fixtures/state.js';
import { flipByte } from '../fixtures/tamper.js';

let seed: Seed;
let s3: S3Server;
let ws: Workspace;
let setId: string;
let setDir: string;
const original: Record<string, string> = {};

const WEB_HEALTH = {
  container: 'web',
  health: { cmd: ['wget', '-q', '-O', '-', 'http://127.0.0.1:8080/health'] },
};

function inVolume(volume: string, script: string): void {
  docker([
    'run',
    '--rm',
    '--label',
    'drbot.fixture=seed',
    '-v',
    `${volume}:/v`,
    BUSYBOX_IMAGE,
    'sh',
    '-c',
    script,
  ]);
}

function runIdOf(text: string): string {
  const m = /run-\d+/.exec(text);
  expect(m, text).not.toBeNull();
  return (m as RegExpExecArray)[0];
}

beforeAll(async () => {
  seed = await createSeed();
  s3 = await startS3();
  // busybox httpd (PID 1) ignores SIGTERM: do not wait 30 s for it at every stop.
  ws = workspace({ s3, extra: { services: [WEB_HEALTH], restore: { stopTimeout: '2s' } } });
  const res = await drbot(ws, ['backup', 'all', '--json']);
  expect(res.code, res.stderr).toBe(0);
  setId = JSON.parse(res.stdout).data.setId;
  setDir = execFileSync('find', [ws.backupDir, '-type', 'd', '-name', setId]).toString().trim();
  original.mysql = mysqlFingerprint('mysql-prod', seed.mysqlEnv);
  original.postgres = postgresFingerprint('postgres-prod', seed.postgresEnv);
  for (const v of ['app-data', 'user-uploads', 'config-data']) original[v] = volumeHashes(v);
});

afterAll(async () => {
  await s3?.stop();
  teardownSeed();
});

describe('disaster db-only', () => {
  it('without --yes shows the plan, is refused, and touches nothing', async () => {
    execIn('mysql-prod', ['mariadb', '-uroot', '-e', 'DROP DATABASE shop'], { env: seed.mysqlEnv });

    const res = await drbot(ws, ['restore', 'db-only']);

    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/⏸ run-\d+ restore db-only: rejected/);
    expect(res.stdout).toMatch(new RegExp(`mysql-prod\\s+database\\s+${setId}`));
    expect(res.stdout).toMatch(/rejected: not approved: this is a destructive run; re-run with --yes/);
    expect(
      execIn('mysql-prod', ['mariadb', '-uroot', '-N', '-e', 'SHOW DATABASES'], { env: seed.mysqlEnv }),
    ).not.toMatch(/^shop$/m);
    expect((await drbot(ws, ['runs', '1'])).stdout).toMatch(/restore\s+db-only\s+rejected/);
  });

  it('with --yes brings dropped MariaDB and PostgreSQL databases back and leaves volumes alone', async () => {
    execIn('postgres-prod', ['psql', '-U', 'postgres', '-c', 'DROP DATABASE inventory'], {
      env: seed.postgresEnv,
    });
    inVolume('app-data', 'echo written-after-backup > /v/late.txt');
    const appDataBefore = volumeHashes('app-data');

    const res = await drbot(ws, ['restore', 'db-only', '--yes']);

    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toMatch(/✓ run-\d+ restore db-only: succeeded/);
    expect(mysqlFingerprint('mysql-prod', seed.mysqlEnv)).toBe(original.mysql);
    expect(postgresFingerprint('postgres-prod', seed.postgresEnv)).toBe(original.postgres);
    expect(volumeHashes('app-data')).toBe(appDataBefore);
    expect(appDataBefore).toMatch(/late\.txt/);
    const runId = runIdOf(res.stdout);
    const pm = await drbot(ws, ['run', runId, '--postmortem']);
    expect(pm.code).toBe(0);
    expect(pm.stdout).toMatch(new RegExp(`# Postmortem: restore db-only \\(${runId}\\)`));
    expect(pm.stdout).toMatch(/\| Approved by \| cli:\S+ at .* \(--yes on the command line\) \|/);
    expect(pm.stdout).toMatch(/\| RTO achieved \| \d+s? ?\S* — target 1h: met/);
    expect(pm.stdout).toMatch(
      /\| mysql-prod \| database \| set-\S+ \| .* \| local \| \d+\S* ?\S* \| 15m \(within\) \|/,
    );
    for (const stage of ['assess', 'assemble', 'verify', 'restore', 'resume'])
      expect(pm.stdout).toMatch(new RegExp(`\\| ${stage} \\| .* \\| ok \\|`));
    expect(pm.stdout).toMatch(/## Follow-ups/);
    expect(pm.stdout + res.stdout + res.stderr).not.toContain(seed.mysqlPassword);
    expect(pm.stdout).not.toContain(seed.postgresPassword);
  });
});

describe('disaster full', () => {
  let restoreRun: string;
  let beforeRestore: Record<string, string>;

  it('puts back deleted files and a removed volume, stopping and starting services in order', async () => {
    inVolume('app-data', 'rm -rf /v/releases /v/index.html');
    inVolume('user-uploads', 'rm /v/avatars/user-1.png /v/avatars/user-2.png /v/big-upload.dat');
    docker(['volume', 'rm', 'config-data']);
    beforeRestore = { 'app-data': volumeHashes('app-data'), 'user-uploads': volumeHashes('user-uploads') };

    const res = await drbot(ws, ['restore', 'full', '--yes']);

    expect(res.code, res.stdout + res.stderr).toBe(0);
    restoreRun = runIdOf(res.stdout);
    for (const v of ['app-data', 'user-uploads', 'config-data']) expect(volumeHashes(v), v).toBe(original[v]);
    expect(JSON.parse(docker(['volume', 'inspect', 'config-data']))[0].Labels).toMatchObject({
      tier: 'important',
      backup: 'weekly',
      retention: '90days',
    });
    expect(docker(['inspect', '-f', '{{.State.Running}}', 'web']).trim()).toBe('true');
    const timeline = (await drbot(ws, ['run', restoreRun])).stdout;
    // Services stop before the safety snapshot, so nothing they write in between is lost.
    const order = [
      'stopped web',
      'safety snapshot set-',
      'app-data: staged',
      'app-data: removed 1 path',
      'started web',
      'web is healthy',
    ].map((m) => timeline.indexOf(m));
    expect(
      order.every((i) => i >= 0),
      timeline,
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('undo returns the data to its pre-restore state', async () => {
    const res = await drbot(ws, ['undo', restoreRun, '--yes']);

    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`✓ run-\\d+ undo ${restoreRun}: succeeded`));
    expect(volumeHashes('app-data')).toBe(beforeRestore['app-data']);
    expect(volumeHashes('user-uploads')).toBe(beforeRestore['user-uploads']);
    expect(mysqlFingerprint('mysql-prod', seed.mysqlEnv)).toBe(original.mysql);
  });
});

describe('a corrupted backup', () => {
  it('restore db-only reads the dump from S3 when the local copy is corrupt, and the run says which copy and why', async () => {
    execIn('mysql-prod', ['mariadb', '-uroot', '-e', 'DELETE FROM shop.orders WHERE id > 2000'], {
      env: seed.mysqlEnv,
    });
    flipByte(join(setDir, 'mysql-prod.sql.gz'));

    const res = await drbot(ws, ['restore', 'db-only', '--yes']);

    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(mysqlFingerprint('mysql-prod', seed.mysqlEnv)).toBe(original.mysql);
    expect(postgresFingerprint('postgres-prod', seed.postgresEnv)).toBe(original.postgres);
    const timeline = (await drbot(ws, ['run', runIdOf(res.stdout)])).stdout;
    expect(timeline).toMatch(
      /mysql-prod: the copy of mysql-prod\.sql\.gz on local is bad: checksum mismatch: \d+ bytes sha256 [0-9a-f]{64}, expected \d+ bytes sha256 [0-9a-f]{64}; marked failed in the catalog; trying s3/,
    );
    expect(timeline).toMatch(
      /mysql-prod: sha256 [0-9a-f]{12}… \d+ bytes on s3 \(local: checksum mismatch: .* \(marked failed in the catalog\); read from s3\)/,
    );
    expect(timeline).toMatch(/postgres-prod: sha256 [0-9a-f]{12}… \d+ bytes on local\n/);
    expect(copyStatuses(ws.statePath, setId, 'mysql-prod.sql.gz')).toEqual({
      local: 'failed',
      s3: 'confirmed',
    });
  });

  it('with --source, a bad copy stops the restore at verify, naming the artifact and target, and live data stays as it was', async () => {
    execIn(
      'mysql-prod',
      ['mariadb', '-uroot', '-e', 'INSERT INTO shop.customers VALUES (9999, "after the backup", NULL)'],
      { env: seed.mysqlEnv },
    );
    const live = mysqlFingerprint('mysql-prod', seed.mysqlEnv);

    // The local copy is still the one corrupted above; S3's good copy is not read.
    const res = await drbot(ws, ['restore', 'mysql-prod', '--from', setId, '--source', 'local', '--yes']);

    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/✗ run-\d+ restore mysql-prod --from \S+: failed/);
    expect(res.stdout).toMatch(
      /cause: asset mysql-prod, step verify: mysql-prod\.sql\.gz of set-\S+ on local: checksum mismatch: .*; nothing live was touched/,
    );
    expect(mysqlFingerprint('mysql-prod', seed.mysqlEnv)).toBe(live);
    const timeline = (await drbot(ws, ['run', runIdOf(res.stdout)])).stdout;
    expect(timeline).not.toMatch(/safety snapshot/);
    expect(timeline).toMatch(/postmortem +stage-end +postmortem finished/);
  });
});
