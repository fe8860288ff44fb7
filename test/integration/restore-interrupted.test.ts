import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drbot, spawnDrbot, type Workspace, workspace } from '../fixtures/cli.js';
import { execIn, waitFor } from '../fixtures/docker.js';
import { createSeed, mysqlFingerprint, type Seed, teardownSeed } from '../fixtures/seed.js';
import { runEvents } from '../fixtures/state.js';

let seed: Seed;
let ws: Workspace;

/** Enough rows that loading the dump takes a few seconds: time to kill drbot in the middle. */
const BULK_SQL = `
CREATE DATABASE bulk;
USE bulk;
CREATE TABLE t (id INT PRIMARY KEY, pad VARCHAR(255));
INSERT INTO t SELECT seq, CONCAT(MD5(seq), MD5(seq * 3), MD5(seq * 7), MD5(seq * 11)) FROM seq_1_to_300000;
`;

beforeAll(async () => {
  seed = await createSeed();
  execIn('mysql-prod', ['mariadb', '-uroot'], { input: BULK_SQL, env: seed.mysqlEnv });
  ws = workspace();
  const res = await drbot(ws, ['backup', 'mysql-prod']);
  expect(res.code, res.stdout + res.stderr).toBe(0);
});

afterAll(() => {
  teardownSeed();
});

describe('a restore killed in the middle', () => {
  it('leaves an interrupted run and an intact safety snapshot that undo can put back', async () => {
    execIn('mysql-prod', ['mariadb', '-uroot', '-e', 'DELETE FROM shop.orders WHERE id > 2000'], {
      env: seed.mysqlEnv,
    });
    const beforeRestore = mysqlFingerprint('mysql-prod', seed.mysqlEnv);
    const { child, result } = spawnDrbot(ws, ['restore', 'mysql-prod', '--yes']);
    await waitFor(
      'the safety snapshot to complete',
      () => runEvents(ws.statePath).some((e) => /^safety snapshot set-\S+ complete/.test(e.message)),
      120_000,
      20,
    );

    const second = await drbot(ws, ['restore', 'mysql-prod', '--yes']);
    const backup = await drbot(ws, ['backup', 'mysql-prod']);
    child.kill('SIGKILL');
    await result;

    // While it ran, a second destructive run on the same asset was refused, naming it.
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/error: asset 'mysql-prod' is busy: run-\d+ \(restore\) is in progress/);
    expect(backup.code).toBe(2);
    expect(backup.stderr).toMatch(/asset 'mysql-prod' is busy: run-\d+ \(restore\)/);
    const runs = await drbot(ws, ['runs', '1']);

    expect(runs.stderr).toMatch(
      /drbot: run-\d+ \(restore mysql-prod\) was interrupted: the process running it stopped; safety snapshot set-\S+ is intact/,
    );
    expect(runs.stdout).toMatch(/run-\d+\s+restore\s+mysql-prod\s+interrupted/);
    const runId = (/run-\d+/.exec(runs.stdout) as RegExpExecArray)[0];
    const shown = await drbot(ws, ['run', runId, '--json']);
    const safetySetId = JSON.parse(shown.stdout).data.run.result.safetySetId as string;
    expect(safetySetId).toMatch(/^set-/);
    const dir = execFileSync('find', [ws.backupDir, '-type', 'd', '-name', safetySetId]).toString().trim();
    expect(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir }).toString()).toMatch(
      /mysql-prod\.sql\.gz: OK/,
    );

    const undo = await drbot(ws, ['undo', runId, '--yes']);

    expect(undo.code, undo.stdout + undo.stderr).toBe(0);
    expect(mysqlFingerprint('mysql-prod', seed.mysqlEnv)).toBe(beforeRestore);
  });
});
