import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drbot, type Workspace, workspace } from '../fixtures/cli.js';
import { docker } from '../fixtures/docker.js';
import { type S3Server, startS3 } from '../fixtures/s3.js';
import { createSeed, teardownSeed } from '../fixtures/seed.js';
import { flipByte, gunzipFile, replaceArtifactConsistently } from '../fixtures/tamper.js';

let s3: S3Server;
let ws: Workspace;
let setId: string;
let setDir: string;

function scratchLeft(): string[] {
  return [
    ...docker(['ps', '-aq', '--filter', 'label=drbot.scratch']).split('\n'),
    ...docker(['volume', 'ls', '-q', '--filter', 'label=drbot.scratch']).split('\n'),
  ].filter(Boolean);
}

async function backupAll(): Promise<{ setId: string; setDir: string }> {
  const res = await drbot(ws, ['backup', 'all', '--json']);
  expect(res.code, res.stderr).toBe(0);
  const id = JSON.parse(res.stdout).data.setId as string;
  return {
    setId: id,
    setDir: execFileSync('find', [ws.backupDir, '-type', 'd', '-name', id]).toString().trim(),
  };
}

beforeAll(async () => {
  await createSeed();
  s3 = await startS3();
  ws = workspace({ s3 });
  ({ setId, setDir } = await backupAll());
});

afterAll(async () => {
  await s3?.stop();
  teardownSeed();
});

describe('verify', () => {
  it('re-reads every artifact from every target and reports each', async () => {
    const res = await drbot(ws, ['verify', 'latest']);

    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`✓ run-\\d+ verify ${setId}: passed`));
    for (const asset of ['mysql-prod', 'postgres-prod', 'app-data', 'user-uploads', 'config-data']) {
      expect(res.stdout).toMatch(new RegExp(`${asset}\\s+\\S+\\s+local\\s+ok`));
      expect(res.stdout).toMatch(new RegExp(`${asset}\\s+\\S+\\s+s3\\s+ok`));
    }
  });

  it('--deep restores every artifact into scratch, checks it, records it as verified and leaves no scratch behind', async () => {
    const res = await drbot(ws, ['verify', setId, '--deep']);

    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toMatch(
      /mysql-prod\s+set-\S+\s+\S+\s+pass — restored from local into scratch mariadb .*: \d+ database\(s\), \d+ table\(s\) with data, \d+ rows/,
    );
    expect(res.stdout).toMatch(
      /postgres-prod\s+set-\S+\s+\S+\s+pass — restored from local into scratch postgres .*1500|postgres-prod .*pass/,
    );
    expect(res.stdout).toMatch(
      /app-data\s+set-\S+\s+\S+\s+pass — restored from local into a scratch volume: \d+ file\(s\), \d+ bytes, every hash equal/,
    );
    expect(scratchLeft()).toEqual([]);
    const status = await drbot(ws, ['status', '--json']);
    const assets = JSON.parse(status.stdout).data.assets as Array<{
      asset: { name: string };
      newestVerified?: { setId: string };
    }>;
    expect(assets.find((a) => a.asset.name === 'mysql-prod')?.newestVerified?.setId).toBe(setId);
  });

  it('names a flipped byte by asset and target, and the other target still passes', async () => {
    flipByte(join(setDir, 'config-data.tar.gz'));

    const res = await drbot(ws, ['verify', setId]);

    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(
      /config-data\s+config-data\.tar\.gz\s+local\s+FAILED — checksum mismatch: \d+ bytes sha256 [0-9a-f]{64}, expected \d+ bytes sha256 [0-9a-f]{64}/,
    );
    expect(res.stdout).toMatch(/config-data\s+config-data\.tar\.gz\s+s3\s+ok/);
    expect(res.stdout).toMatch(/mysql-prod\s+mysql-prod\.sql\.gz\s+local\s+ok/);
  });
});

describe('deep verify and recovery test on a backup that restores badly', () => {
  let bad: { setId: string; setDir: string };

  beforeAll(async () => {
    bad = await backupAll();
    // A dump cut off in the middle of a statement, with checksums that all agree with it.
    const sql = gunzipFile(join(bad.setDir, 'mysql-prod.sql.gz'));
    const cut = sql.indexOf('INSERT INTO `orders`') + 200;
    replaceArtifactConsistently({
      statePath: ws.statePath,
      setDir: bad.setDir,
      file: 'mysql-prod.sql.gz',
      content: sql.subarray(0, cut),
    });
    // A volume archive cut in half.
    const tar = gunzipFile(join(bad.setDir, 'user-uploads.tar.gz'));
    replaceArtifactConsistently({
      statePath: ws.statePath,
      setDir: bad.setDir,
      file: 'user-uploads.tar.gz',
      content: tar.subarray(0, Math.floor(tar.length / 2)),
    });
  });

  it('verify passes the checksums but --deep fails with the cause, and removes its scratch', async () => {
    const shallow = await drbot(ws, ['verify', bad.setId]);
    const deep = await drbot(ws, ['verify', bad.setId, '--deep']);

    expect(shallow.code, shallow.stderr).toBe(0);
    expect(deep.code).toBe(1);
    expect(deep.stdout).toMatch(
      /mysql-prod\s+set-\S+\s+\S+\s+FAIL — asset mysql-prod, step restore: mariadb in container drbot-verify-run-\d+-mysql-prod-[0-9a-f]+ exited with code 1 while loading the dump — stderr:[\s\S]*ERROR 1064/,
    );
    expect(deep.stdout).toMatch(
      /user-uploads\s+set-\S+\s+\S+\s+FAIL — asset user-uploads, step extract: user-uploads.tar.gz from local is not a complete tar archive: Unexpected end of data/,
    );
    expect(deep.stdout).toMatch(/app-data\s+set-\S+\s+\S+\s+pass/);
    expect(scratchLeft()).toEqual([]);
  });

  it('drbot test reports pass/fail per asset with timings, and removes its scratch', async () => {
    const res = await drbot(ws, ['test']);

    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/✗ run-\d+ recovery test: FAILED/);
    expect(res.stdout).toMatch(/mysql-prod\s+set-\S+\s+\d+(\.\d+)?s?\S*\s+FAIL/);
    expect(res.stdout).toMatch(/postgres-prod\s+set-\S+\s+\S+\s+pass/);
    expect(res.stdout).toMatch(/config-data\s+set-\S+\s+\S+\s+pass/);
    expect(scratchLeft()).toEqual([]);
  });
});
