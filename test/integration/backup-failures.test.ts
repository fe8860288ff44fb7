import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filesBelow, partialSize } from '../fixtures/backup-dir.js';
import { drbot, spawnDrbot, type Workspace, workspace } from '../fixtures/cli.js';
import { docker, execIn, removeByLabel, waitFor } from '../fixtures/docker.js';
import { engineHarness } from '../fixtures/engine.js';
import { type S3Server, startS3 } from '../fixtures/s3.js';
import { createSeed, type Seed, teardownSeed, waitForDatabases } from '../fixtures/seed.js';

let seed: Seed;
let s3: S3Server;
let ws: Workspace;

/** About 120 MiB of rows, so a dump lasts long enough to be interrupted on purpose. */
const BULK_SQL = `
CREATE DATABASE bulk;
USE bulk;
CREATE TABLE t (id INT PRIMARY KEY, pad VARCHAR(255));
INSERT INTO t SELECT seq, CONCAT(MD5(seq), MD5(seq * 3), MD5(seq * 7), MD5(seq * 11), MD5(seq * 13), MD5(seq * 17)) FROM seq_1_to_600000;
`;

async function s3Keys(prefix = 'drbot/'): Promise<string[]> {
  const client = new S3Client({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const res = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
  client.destroy();
  return (res.Contents ?? []).map((o) => o.Key as string);
}

async function runsJson(): Promise<Array<{ id: string; status: string; error?: string }>> {
  return JSON.parse((await drbot(ws, ['runs', '--json'])).stdout).data;
}

beforeAll(async () => {
  seed = await createSeed();
  execIn('mysql-prod', ['mariadb', '-uroot'], { input: BULK_SQL, env: seed.mysqlEnv });
  s3 = await startS3();
  ws = workspace({ s3 });
});

afterAll(async () => {
  await s3?.stop();
  teardownSeed();
});

describe('a run that breaks half-way', () => {
  it('stopping the database container during the dump gives a failed run with the cause and no set', async () => {
    const { result } = spawnDrbot(ws, ['backup', 'mysql-prod']);
    await waitFor(
      'the dump to stream',
      () => partialSize(ws.backupDir, 'mysql-prod.sql.gz') > 256 * 1024,
      60_000,
      10,
    );

    docker(['kill', 'mysql-prod']);
    const res = await result.finally(async () => {
      docker(['start', 'mysql-prod']);
      await waitForDatabases(seed);
    });

    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/✗ run-\d+ backup mysql-prod failed; set set-\S+ is not restorable/);
    expect(res.stdout).toMatch(/cause: asset mysql-prod, step dump: /);
    expect(filesBelow(ws.backupDir)).toEqual([]);
    expect(await s3Keys()).toEqual([]);
    const [run] = await runsJson();
    expect(run?.status).toBe('failed');
    expect(run?.error).toMatch(/mysql-prod/);
    const status = await drbot(ws, ['status']);
    expect(status.stdout).toMatch(/mysql-prod\s+mariadb db\s+critical\s+.*7 years\s+15m\s+-\s+-\s+-\s+never/);
  });

  it('stopping the S3 server during the upload gives a failed run with the cause and nothing that looks complete', async () => {
    const { result } = spawnDrbot(ws, ['backup', 'mysql-prod']);
    await waitFor(
      'the upload to be under way',
      () => partialSize(ws.backupDir, 'mysql-prod.sql.gz') > 1024 * 1024,
      60_000,
      10,
    );

    await s3.stop();
    const res = await result;
    s3 = await startS3(s3.bucket, s3);

    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(
      /cause: asset mysql-prod, step dump: s3 s3:\/\/drbot-test\/drbot: upload of drbot\/\S+\/mysql-prod\.sql\.gz failed: /,
    );
    expect(res.stderr).toMatch(/could not remove the failed set's files from s3/);
    expect(filesBelow(ws.backupDir)).toEqual([]);
    expect(await s3Keys()).toEqual([]);
    expect((await runsJson())[0]?.status).toBe('failed');
  });

  it('a dump tool that exits non-zero fails the run with its exit code and stderr, even though gzip succeeded', async () => {
    const wrongUser = workspace({
      s3,
      extra: {
        databases: [
          {
            name: 'mysql-prod',
            container: 'mysql-prod',
            engine: 'mariadb',
            tier: 'critical',
            user: 'intruder',
          },
        ],
      },
    });

    const res = await drbot(wrongUser, ['backup', 'mysql-prod']);

    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(
      /mariadb-dump in container mysql-prod exited with code 2 — stderr: .*Access denied for user 'intruder'/,
    );
    expect(filesBelow(wrongUser.backupDir)).toEqual([]);
  });

  it('a password variable the container does not have is named, without any value', async () => {
    const noSecret = workspace({
      extra: {
        databases: [
          {
            name: 'mysql-prod',
            container: 'mysql-prod',
            engine: 'mysql',
            tier: 'critical',
            passwordEnv: 'DB_PASSWORD',
          },
        ],
      },
    });

    const res = await drbot(noSecret, ['backup', 'mysql-prod']);

    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/container mysql-prod has no DB_PASSWORD in its environment/);
  });
});

describe('a target that cannot be opened', () => {
  it('starts no dump and leaves no dump process or helper container behind', async () => {
    const h = engineHarness({
      config: {
        databases: [
          {
            name: 'mysql-prod',
            container: 'mysql-prod',
            engine: 'mariadb',
            tier: 'critical',
            passwordEnv: 'MYSQL_ROOT_PASSWORD',
          },
        ],
      },
    });
    // A file where the set's year directory must go: the local target cannot create the set.
    mkdirSync(h.backupDir, { recursive: true });
    writeFileSync(join(h.backupDir, h.clock.now().toISOString().slice(0, 4)), 'not a directory');

    const outcome = await h.app.engine
      .backup({ target: 'two assets', assets: ['mysql-prod', 'app-data'], requester: 'test' })
      .finally(() => h.app.close());

    expect(outcome.status).toBe('failed');
    expect(outcome.failures.join('\n')).toMatch(/mysql-prod.*(ENOTDIR|not a directory)/);
    // The bulk dump is far bigger than every buffer between it and drbot: a dump started and
    // never read would still be blocked in the container now.
    const processes = docker(['top', 'mysql-prod', '-eo', 'pid,args']);
    const anchors = docker(['ps', '-aq', '--filter', 'label=drbot.anchor']);
    removeByLabel('drbot.anchor'); // one left behind would keep app-data in use for the next test
    expect(processes).not.toMatch(/mariadb-dump|mysqldump/);
    expect(anchors).toBe('');
  });
});

describe('secrets', () => {
  it('no process on the host shows the password in its arguments during a dump, and no log contains it', async () => {
    const { child, result } = spawnDrbot(ws, ['backup', 'mysql-prod']);
    const seen: string[] = [];
    let running = true;
    result.finally(() => (running = false));
    while (running) {
      seen.push(execFileSync('ps', ['-eo', 'args', '--no-headers']).toString());
      await new Promise((r) => setTimeout(r, 20));
    }
    const res = await result;

    expect(res.code, res.stderr).toBe(0);
    const all = seen.join('\n');
    // The sampling must have caught the dump itself, or this test would prove nothing.
    expect(all).toMatch(
      /mariadb-dump --user=root --single-transaction --routines --triggers --events --all-databases/,
    );
    expect(all).not.toContain(seed.mysqlPassword);
    expect(res.stdout + res.stderr).not.toContain(seed.mysqlPassword);
    expect(res.stderr).toMatch(/"msg":"dump started"/); // logging was on
    expect(readFileSync(ws.statePath).toString('latin1')).not.toContain(seed.mysqlPassword);
    for (const f of filesBelow(ws.backupDir).filter((x) => !x.endsWith('.gz'))) {
      expect(readFileSync(`${ws.backupDir}/${f}`, 'utf8')).not.toContain(seed.mysqlPassword);
    }
    expect(child.exitCode).toBe(0);
  });
});
