// The store's run queries (active runs, last run, past durations), approval cards and the write transaction.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import type { RunKind, RunStatus } from '../../../../src/domain/runs.js';
import type { ApprovalRecord } from '../../../../src/ports/state-store.js';

const T0 = new Date('2026-06-01T10:00:00.000Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

/** A pid that belonged to a process which has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  if (child.pid === undefined) throw new Error('could not start a child process');
  return child.pid;
}

function record(
  store: SqliteStore,
  r: {
    kind?: RunKind;
    status: RunStatus;
    target?: string;
    assets?: string[];
    start?: Date;
    ms?: number;
    error?: string;
  },
) {
  const run = store.createRun({
    kind: r.kind ?? 'backup',
    requester: 'U0TEST',
    target: r.target ?? 'all',
    status: 'running',
    at: r.start ?? T0,
  });
  const start = r.start ?? T0;
  return store.updateRun(run.id, {
    status: r.status,
    startedAt: start,
    ...(r.ms !== undefined ? { endedAt: new Date(start.getTime() + r.ms) } : {}),
    ...(r.error ? { error: r.error } : {}),
    result: { assets: r.assets ?? [] },
  });
}

function card(runId: string, overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return {
    runId,
    requester: 'U0OPS',
    channel: 'C0OPS',
    messageTs: '1700000000.000100',
    fingerprint: 'plan-abc',
    createdAt: at(0),
    expiresAt: at(30),
    ...overrides,
  };
}

describe('SqliteStore run queries (state file)', () => {
  let dir: string;
  let store: SqliteStore;
  let raw: Database.Database;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'drbot-queries-'));
    const path = join(dir, 'drbot.sqlite');
    store = openSqliteStore(path);
    raw = new Database(path);
  });

  afterEach(() => {
    raw.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const setOwner = (runId: string, owner: string | null) =>
    raw.prepare('UPDATE runs SET owner = ? WHERE id = ?').run(owner, runId);

  it('activeRuns: running and pending runs, whether their owner lives, and their open card', () => {
    const running = record(store, { status: 'running', assets: ['main'] });
    const waiting = record(store, { kind: 'restore', status: 'pending-approval', assets: ['main'] });
    const orphan = record(store, { kind: 'restore', status: 'pending-approval', assets: ['files'] });
    record(store, { status: 'succeeded', assets: ['main'], ms: 1000 });
    setOwner(orphan.id, `${hostname()}:${deadPid()}`);
    store.saveApproval(card(waiting.id));

    const active = store.activeRuns();

    expect(active.map((a) => [a.run.id, a.ownerLive, a.approval?.fingerprint])).toEqual([
      [running.id, true, undefined],
      [waiting.id, true, 'plan-abc'],
      [orphan.id, false, undefined],
    ]);
  });

  it('lastRun: the newest run of a kind, an asset and statuses', () => {
    record(store, { status: 'failed', assets: ['main'], error: 'old failure' });
    const failed = record(store, { status: 'failed', assets: ['main', 'files'], error: 'dump exit 2' });
    record(store, { status: 'succeeded', assets: ['main'], ms: 1000 });
    record(store, { status: 'interrupted', assets: ['other'] });
    record(store, { kind: 'restore', status: 'succeeded', assets: ['files'], ms: 5000 });

    const lastFailure = store.lastRun({ asset: 'main', status: ['failed', 'interrupted'] });
    const lastBackup = store.lastRun({ kind: 'backup', asset: 'files' });
    const none = store.lastRun({ asset: 'mai' });

    expect(lastFailure?.error).toBe('dump exit 2');
    expect(lastBackup?.id).toBe(failed.id);
    expect(none).toBeUndefined();
  });

  it('pastDurations: succeeded runs of the scope (with or without --from), newest first, at most limit', () => {
    record(store, { kind: 'restore', status: 'succeeded', target: 'db-only', ms: 60_000 });
    record(store, { kind: 'restore', status: 'succeeded', target: 'db-only --from set-1', ms: 90_000 });
    record(store, { kind: 'restore', status: 'failed', target: 'db-only', ms: 5_000 });
    record(store, { kind: 'restore', status: 'succeeded', target: 'db-only-x', ms: 7_000 });
    record(store, { kind: 'restore', status: 'succeeded', target: 'full', ms: 600_000 });
    record(store, { kind: 'restore', status: 'succeeded', target: 'db-only', ms: 30_000 });

    const all = store.pastDurations('restore', 'db-only', 10);
    const two = store.pastDurations('restore', 'db-only', 2);

    expect(all).toEqual([30_000, 90_000, 60_000]);
    expect(two).toEqual([30_000, 90_000]);
  });

  it('keeps approval cards, updates them (the message ts once posted) and closes them', () => {
    const run = record(store, { kind: 'restore', status: 'pending-approval' });
    store.saveApproval(card(run.id, { messageTs: undefined }));
    store.saveApproval(card(run.id));

    const kept = store.approvals();
    store.closeApproval(run.id);

    expect(kept).toEqual([card(run.id)]);
    expect(store.approval(run.id)).toBeUndefined();
  });

  it('claimRun takes up a pending run whose owner died or let go, never one a live process owns', () => {
    const mine = record(store, { kind: 'restore', status: 'pending-approval' });
    const dead = record(store, { kind: 'restore', status: 'pending-approval' });
    const released = record(store, { kind: 'restore', status: 'pending-approval' });
    const neighbour = record(store, { kind: 'restore', status: 'pending-approval' });
    const finished = record(store, { kind: 'restore', status: 'expired' });
    setOwner(dead.id, `${hostname()}:${deadPid()}`);
    setOwner(neighbour.id, `${hostname()}:${process.ppid}`);
    setOwner(finished.id, null);
    store.releaseRun(released.id);

    const claims = [mine, dead, released, neighbour, finished].map((r) => store.claimRun(r.id));

    expect(claims).toEqual([false, true, true, false, false]);
    expect(store.activeRuns().find((a) => a.run.id === dead.id)?.ownerLive).toBe(true);
  });

  it('settlePending ends a pending run nobody waits on, with an event; leaves a live one alone', () => {
    const dead = record(store, { kind: 'restore', status: 'pending-approval' });
    const live = record(store, { kind: 'restore', status: 'pending-approval' });
    setOwner(dead.id, `${hostname()}:${deadPid()}`);

    const settled = store.settlePending(dead.id, {
      status: 'expired',
      at: at(31),
      reason: 'no approval within 30m',
    });
    const refused = store.settlePending(live.id, { status: 'expired', at: at(31), reason: 'no approval' });
    const again = store.settlePending(dead.id, { status: 'cancelled', at: at(32), reason: 'late' });

    expect(settled).toMatchObject({ status: 'expired', endedAt: at(31), error: 'no approval within 30m' });
    expect(store.events(dead.id).map((e) => [e.stage, e.message])).toEqual([
      ['assemble', 'expired: no approval within 30m'],
    ]);
    expect(refused).toBeUndefined();
    expect(again).toBeUndefined();
    expect(store.getRun(live.id)?.status).toBe('pending-approval');
  });

  it('exclusive: another connection cannot write until the transaction ends, and a throw rolls back', () => {
    const other = openSqliteStore(raw.name);
    raw.pragma('busy_timeout = 0');
    let blocked: unknown;

    store.exclusive(() => {
      record(store, { status: 'running', assets: ['main'] });
      try {
        raw.prepare("INSERT INTO notes (key, value) VALUES ('k', 'v')").run();
      } catch (err) {
        blocked = err;
      }
    });
    expect(() =>
      store.exclusive(() => {
        record(store, { status: 'running', assets: ['files'] });
        throw new Error('refused');
      }),
    ).toThrow('refused');
    const seen = other.activeRuns().map((a) => a.run.result);
    other.close();

    expect(String(blocked)).toMatch(/database is locked/);
    expect(seen).toEqual([{ assets: ['main'] }]);
  });
});
