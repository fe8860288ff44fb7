// The asset lock: one destructive run per asset, across processes, and what a waiting run holds.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import type { RunKind, RunStatus } from '../../../../src/domain/runs.js';
import { acquireAssets } from '../../../../src/engine/runs/locks.js';
import { ManualClock } from '../../../fixtures/engine.js';

let dir: string;
let store: SqliteStore;
let raw: Database.Database;
let clock: ManualClock;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'drbot-locks-'));
  store = openSqliteStore(join(dir, 'drbot.sqlite'));
  raw = new Database(join(dir, 'drbot.sqlite'));
  clock = new ManualClock(new Date('2026-06-01T10:00:00Z'));
});

afterEach(() => {
  raw.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts a run of `kind` on `assets` under the lock, as backup and restore do. */
function start(kind: RunKind, assets: string[], s: SqliteStore = store) {
  return acquireAssets({ store: s, clock }, kind, assets, () => {
    const run = s.createRun({
      kind,
      requester: 'u',
      target: assets.join(','),
      status: 'running',
      at: clock.now(),
    });
    return s.updateRun(run.id, { result: { assets } });
  });
}

function finish(runId: string, status: RunStatus = 'succeeded') {
  store.updateRun(runId, { status, endedAt: clock.now() });
}

/** The run's process is gone (it was killed). */
function ownerDied(runId: string) {
  const child = spawnSync(process.execPath, ['-e', '0']);
  raw.prepare('UPDATE runs SET owner = ? WHERE id = ?').run(`${hostname()}:${child.pid}`, runId);
}

describe('acquireAssets: one run per asset', () => {
  it('refuses a second restore of an asset, naming the run in progress, and allows it once that ended', () => {
    const first = start('restore', ['main']);

    expect(() => start('restore', ['main', 'other'])).toThrow(
      /asset 'main' is busy: run-1 \(restore\) is in progress/,
    );
    expect(store.listRuns(10)).toHaveLength(1);
    finish(first.id);
    expect(start('restore', ['main']).id).toBe('run-2');
  });

  it('lets a backup run while a restore only waits for approval, never while it replaces data', () => {
    const restore = start('restore', ['main']);
    store.updateRun(restore.id, { status: 'pending-approval' });

    const backup = start('backup', ['main']);
    finish(backup.id);
    store.updateRun(restore.id, { status: 'running' });

    expect(() => start('backup', ['main'])).toThrow(/busy: run-1 \(restore\)/);
  });

  it('does not let two backups of one asset overlap, but lets different assets run together', () => {
    start('backup', ['main']);

    expect(() => start('backup', ['main'])).toThrow(/asset 'main' is busy/);
    expect(() => start('backup', ['files'])).not.toThrow();
  });

  it('sees runs of another connection to the state file, as of another process', () => {
    const other = openSqliteStore(join(dir, 'drbot.sqlite'));
    start('restore', ['app-data'], other);

    expect(() => start('backup', ['app-data'])).toThrow(/asset 'app-data' is busy: run-1 \(restore\)/);
    other.close();
  });

  it('records nothing when it refuses', () => {
    start('restore', ['main']);

    expect(() => start('undo', ['main'])).toThrow(/busy/);
    expect(store.listRuns(10).map((r) => r.id)).toEqual(['run-1']);
  });
});

describe('acquireAssets: a restore left waiting for approval by a process that died', () => {
  function orphan(card?: { posted: boolean; expiresInMs: number }) {
    const run = start('restore', ['main']);
    store.updateRun(run.id, { status: 'pending-approval' });
    if (card)
      store.saveApproval({
        runId: run.id,
        requester: 'U0OPS',
        channel: 'C0OPS',
        messageTs: card.posted ? '1.2' : undefined,
        fingerprint: 'plan',
        createdAt: clock.now(),
        expiresAt: new Date(clock.now().getTime() + card.expiresInMs),
      });
    ownerDied(run.id);
    return run;
  }

  it('still holds the asset while its card can be acted on, naming the run and until when', () => {
    orphan({ posted: true, expiresInMs: 30 * 60_000 });

    expect(() => start('restore', ['main'])).toThrow(
      /asset 'main' is busy: run-1 \(restore\) is in progress, waiting for approval until 2026-06-01T10:30:00.000Z; .*cancel run-1/,
    );
  });

  it('holds nothing once its card has expired, even before anyone marks it', () => {
    orphan({ posted: true, expiresInMs: 30 * 60_000 });
    clock.set(new Date('2026-06-01T10:30:00Z'));

    expect(start('restore', ['main']).id).toBe('run-2');
  });

  it('holds nothing without a posted card (nobody can approve it)', () => {
    orphan({ posted: false, expiresInMs: 30 * 60_000 });
    const bare = start('restore', ['other']);
    store.updateRun(bare.id, { status: 'pending-approval', result: { assets: ['other'] } });
    ownerDied(bare.id);

    expect(start('restore', ['main']).id).toBe('run-3');
    expect(start('restore', ['other']).id).toBe('run-4');
  });

  it('the run being taken up does not conflict with itself', () => {
    const run = orphan({ posted: true, expiresInMs: 30 * 60_000 });

    const again = acquireAssets({ store, clock }, 'restore', ['main'], () => run, run.id);

    expect(again.id).toBe(run.id);
  });
});
