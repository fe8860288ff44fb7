// Two processes ask for a restore of the same asset at the same instant: exactly one proceeds.
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drbot, spawnDrbot, type Workspace, workspace } from '../fixtures/cli.js';
import { waitFor } from '../fixtures/docker.js';
import { createSeed, teardownSeed } from '../fixtures/seed.js';

let ws: Workspace;

beforeAll(async () => {
  await createSeed();
  ws = workspace();
  const backup = await drbot(ws, ['backup', 'mysql-prod']);
  expect(backup.code, backup.stdout + backup.stderr).toBe(0);
});

afterAll(() => {
  teardownSeed();
});

/** Whether this kernel shows where a process sleeps. */
function wchanShown(): boolean {
  try {
    return /[a-z]/.test(readFileSync(`/proc/${process.ppid}/wchan`, 'utf8'));
  } catch {
    return false;
  }
}

/** Whether the process sleeps in SQLite's busy handler (waiting for a lock on the state file). */
function waitsForLock(pid: number | undefined): boolean {
  try {
    return /nanosleep/.test(readFileSync(`/proc/${pid}/wchan`, 'utf8'));
  } catch {
    return false;
  }
}

describe('the asset lock across processes', () => {
  it('two CLI restores of one asset released at the same instant: one proceeds, the other is refused naming it', async () => {
    // The barrier: the test holds the state file's write lock while both processes reach the
    // point where they take the asset lock, then lets go of it.
    const barrier = new Database(ws.statePath);
    barrier.exec('BEGIN IMMEDIATE');
    const a = spawnDrbot(ws, ['restore', 'mysql-prod', '--yes']);
    const b = spawnDrbot(ws, ['restore', 'mysql-prod', '--yes']);
    // Both wait on the lock: seen in /proc where the kernel shows it (they sleep in SQLite's
    // busy handler), else assumed after a few seconds. Released before their 5 s busy timeout.
    if (wchanShown()) {
      await waitFor(
        'both restores to wait for the state file',
        () => waitsForLock(a.child.pid) && waitsForLock(b.child.pid),
        4_000,
        20,
      ).catch(() => undefined);
    } else {
      await new Promise((r) => setTimeout(r, 3_000));
    }
    barrier.exec('ROLLBACK');
    barrier.close();

    const results = await Promise.all([a.result, b.result]);

    const done = results.filter((r) => r.code === 0);
    const refused = results.filter((r) => r.code === 2);
    expect(done, results.map((r) => r.stdout + r.stderr).join('\n---\n')).toHaveLength(1);
    expect(refused).toHaveLength(1);
    const winner = (/(run-\d+) restore mysql-prod: succeeded/.exec(done[0]?.stdout ?? '') ?? [])[1];
    expect(winner).toMatch(/^run-\d+$/);
    expect(refused[0]?.stderr).toMatch(
      new RegExp(`error: asset 'mysql-prod' is busy: ${winner} \\(restore\\) is in progress`),
    );
    const runs = await drbot(ws, ['runs', '10', '--json']);
    const restores = (JSON.parse(runs.stdout).data as Array<{ id: string; kind: string }>).filter(
      (r) => r.kind === 'restore',
    );
    expect(restores.map((r) => r.id)).toEqual([winner]);
  });
});
