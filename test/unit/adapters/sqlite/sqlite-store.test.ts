import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import { registerSecret } from '../../../../src/secrets.js';

const T0 = new Date('2026-06-01T10:00:00.000Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

function newRun(
  store: SqliteStore,
  overrides: { target?: string; status?: 'running' | 'pending-approval' } = {},
) {
  return store.createRun({
    kind: 'backup',
    requester: 'U0TEST',
    target: overrides.target ?? 'all',
    status: overrides.status ?? 'running',
    at: T0,
  });
}

/** A pid that belonged to a process which has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  if (child.pid === undefined) throw new Error('could not start a child process');
  return child.pid;
}

describe('SqliteStore (in memory)', () => {
  let store: SqliteStore;

  beforeEach(() => {
    store = openSqliteStore(':memory:');
  });

  afterEach(() => {
    store.close();
  });

  describe('runs', () => {
    it('numbers runs run-1, run-2, … in creation order', () => {
      const ids = [newRun(store), newRun(store), newRun(store)].map((r) => r.id);

      expect(ids).toEqual(['run-1', 'run-2', 'run-3']);
    });

    it('returns the created run with what was given', () => {
      const run = store.createRun({
        kind: 'verify',
        requester: 'cli:ops',
        target: 'app-data',
        status: 'pending-approval',
        at: T0,
      });

      expect(run).toEqual({
        id: 'run-1',
        kind: 'verify',
        requester: 'cli:ops',
        target: 'app-data',
        status: 'pending-approval',
        createdAt: T0,
        startedAt: undefined,
        endedAt: undefined,
        error: undefined,
        result: {},
      });
    });

    it('updates only the fields given and returns the updated run', () => {
      const run = newRun(store);
      store.updateRun(run.id, { startedAt: at(1) });

      const updated = store.updateRun(run.id, {
        status: 'failed',
        endedAt: at(5),
        error: 'dump failed',
        result: { setId: 'set-x', pruned: 2 },
      });

      expect(updated).toMatchObject({
        status: 'failed',
        startedAt: at(1),
        endedAt: at(5),
        error: 'dump failed',
        result: { setId: 'set-x', pruned: 2 },
      });
      expect(store.getRun(run.id)).toEqual(updated);
    });

    it('removes registered secrets from the error and result it stores', () => {
      registerSecret('store-secret-pw');
      const run = newRun(store);

      const updated = store.updateRun(run.id, {
        error: 'denied for store-secret-pw',
        result: { failures: ['pw store-secret-pw'] },
      });

      expect(updated.error).toBe('denied for [REDACTED]');
      expect(updated.result).toEqual({ failures: ['pw [REDACTED]'] });
    });

    it('returns undefined for an unknown run', () => {
      const run = store.getRun('run-99');

      expect(run).toBeUndefined();
    });

    it('lists the most recent runs first, up to the limit', () => {
      for (let i = 0; i < 5; i++) newRun(store);

      const runs = store.listRuns(3);

      expect(runs.map((r) => r.id)).toEqual(['run-5', 'run-4', 'run-3']);
    });
  });

  describe('events', () => {
    it('keeps events of a run in the order they were appended, with their data', () => {
      const run = newRun(store);
      store.appendEvent(run.id, { at: at(1), stage: 'dump', type: 'stage-start', message: 'dump started' });
      store.appendEvent(run.id, {
        at: at(1),
        stage: 'dump',
        type: 'info',
        message: 'app-data 12 bytes',
        data: { bytes: 12 },
      });
      store.appendEvent(run.id, { at: at(2), type: 'stage-end', message: 'done' });

      const events = store.events(run.id);

      expect(events).toEqual([
        {
          runId: run.id,
          at: at(1),
          stage: 'dump',
          type: 'stage-start',
          message: 'dump started',
          data: undefined,
        },
        {
          runId: run.id,
          at: at(1),
          stage: 'dump',
          type: 'info',
          message: 'app-data 12 bytes',
          data: { bytes: 12 },
        },
        { runId: run.id, at: at(2), stage: undefined, type: 'stage-end', message: 'done', data: undefined },
      ]);
    });

    it('keeps the events of each run apart and appends without replacing', () => {
      const a = newRun(store);
      const b = newRun(store);
      store.appendEvent(a.id, { at: at(1), type: 'info', message: 'a1' });
      store.appendEvent(b.id, { at: at(1), type: 'info', message: 'b1' });
      store.appendEvent(a.id, { at: at(2), type: 'warn', message: 'a2' });

      const ofA = store.events(a.id).map((e) => e.message);
      const ofB = store.events(b.id).map((e) => e.message);

      expect(ofA).toEqual(['a1', 'a2']);
      expect(ofB).toEqual(['b1']);
    });

    it('removes registered secrets from messages and data', () => {
      registerSecret('event-secret-pw');
      const run = newRun(store);

      store.appendEvent(run.id, {
        at: at(1),
        type: 'error',
        message: 'stderr: event-secret-pw',
        data: { cmd: 'x event-secret-pw' },
      });

      const [event] = store.events(run.id);
      expect(event?.message).toBe('stderr: [REDACTED]');
      expect(event?.data).toEqual({ cmd: 'x [REDACTED]' });
    });
  });

  describe('sets, artifacts and locations', () => {
    it('round-trips a set with its artifacts and their locations', () => {
      const run = newRun(store);
      store.createSet({ id: 'set-20260601-100000-aaaa', runId: run.id, createdAt: at(0) });
      const db = store.addArtifact({
        setId: 'set-20260601-100000-aaaa',
        asset: 'main',
        kind: 'mysql-dump',
        file: 'main.sql.gz',
        compression: 'gzip',
        startedAt: at(1),
      });
      const vol = store.addArtifact({
        setId: 'set-20260601-100000-aaaa',
        asset: 'app-data',
        kind: 'volume-tar',
        file: 'app-data.tar.gz',
        compression: 'gzip',
        startedAt: at(1),
      });
      store.updateArtifact(db, {
        size: 100,
        rawSize: 400,
        sha256: 'ab'.repeat(32),
        engineVersion: '11.4.2-MariaDB',
        endedAt: at(2),
        status: 'complete',
      });
      store.setLocation(db, {
        target: 'local',
        key: '2026/06/01/set-20260601-100000-aaaa/main.sql.gz',
        status: 'writing',
        confirmedAt: undefined,
      });
      store.setLocation(db, {
        target: 's3',
        key: 'drbot/2026/06/01/set-20260601-100000-aaaa/main.sql.gz',
        status: 'confirmed',
        confirmedAt: at(3),
      });
      store.setLocation(db, {
        target: 'local',
        key: '2026/06/01/set-20260601-100000-aaaa/main.sql.gz',
        status: 'confirmed',
        confirmedAt: at(3),
      });
      store.updateSet('set-20260601-100000-aaaa', {
        status: 'complete',
        completedAt: at(4),
        verifiedAt: at(5),
      });

      const set = store.getSet('set-20260601-100000-aaaa');

      expect(set).toMatchObject({
        id: 'set-20260601-100000-aaaa',
        runId: run.id,
        createdAt: at(0),
        completedAt: at(4),
        status: 'complete',
        error: undefined,
        verifiedAt: at(5),
        deepVerifiedAt: undefined,
        purpose: 'backup',
      });
      expect(set?.artifacts.map((a) => a.asset)).toEqual(['app-data', 'main']);
      expect(set?.artifacts[1]).toEqual({
        id: db,
        setId: 'set-20260601-100000-aaaa',
        asset: 'main',
        kind: 'mysql-dump',
        file: 'main.sql.gz',
        size: 100,
        rawSize: 400,
        sha256: 'ab'.repeat(32),
        compression: 'gzip',
        engineVersion: '11.4.2-MariaDB',
        startedAt: at(1),
        endedAt: at(2),
        status: 'complete',
        prunedAt: undefined,
        meta: {},
        verifiedAt: undefined,
        deepVerifiedAt: undefined,
        verifyError: undefined,
        locations: [
          {
            target: 'local',
            key: '2026/06/01/set-20260601-100000-aaaa/main.sql.gz',
            status: 'confirmed',
            confirmedAt: at(3),
          },
          {
            target: 's3',
            key: 'drbot/2026/06/01/set-20260601-100000-aaaa/main.sql.gz',
            status: 'confirmed',
            confirmedAt: at(3),
          },
        ],
      });
      expect(set?.artifacts[0]).toMatchObject({
        id: vol,
        status: 'writing',
        size: undefined,
        sha256: undefined,
        locations: [],
      });
    });

    it('returns undefined for an unknown set', () => {
      const set = store.getSet('set-none');

      expect(set).toBeUndefined();
    });

    it('refuses a set for a run that does not exist', () => {
      const create = () => store.createSet({ id: 'set-orphan', runId: 'run-404', createdAt: T0 });

      expect(create).toThrow();
    });

    it('lists sets newest first and filters them by status', () => {
      const run = newRun(store);
      store.createSet({ id: 'set-b', runId: run.id, createdAt: at(20) });
      store.createSet({ id: 'set-a', runId: run.id, createdAt: at(10) });
      store.createSet({ id: 'set-c', runId: run.id, createdAt: at(30) });
      store.createSet({ id: 'set-d', runId: run.id, createdAt: at(40) });
      store.updateSet('set-a', { status: 'complete' });
      store.updateSet('set-c', { status: 'complete' });
      store.updateSet('set-b', { status: 'failed', error: 'upload failed' });

      const all = store.listSets().map((s) => s.id);
      const complete = store.listSets({ status: ['complete'] }).map((s) => s.id);
      const finished = store.listSets({ status: ['complete', 'failed'] }).map((s) => s.id);

      expect(all).toEqual(['set-d', 'set-c', 'set-b', 'set-a']);
      expect(complete).toEqual(['set-c', 'set-a']);
      expect(finished).toEqual(['set-c', 'set-b', 'set-a']);
    });
  });
});

describe('SqliteStore.interruptRunning (state file)', () => {
  let dir: string;
  let store: SqliteStore;
  let raw: Database.Database;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'drbot-store-'));
    const path = join(dir, 'state', 'drbot.sqlite');
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

  it('marks a running run of a dead process interrupted, with an event, and fails its writing sets', () => {
    const run = newRun(store);
    setOwner(run.id, `${hostname()}:${deadPid()}`);
    store.createSet({ id: 'set-writing', runId: run.id, createdAt: at(1) });
    store.createSet({ id: 'set-done', runId: run.id, createdAt: at(0) });
    store.updateSet('set-done', { status: 'complete' });

    const interrupted = store.interruptRunning(at(60));

    expect(interrupted.map((r) => r.id)).toEqual([run.id]);
    expect(store.getRun(run.id)).toMatchObject({
      status: 'interrupted',
      endedAt: at(60),
      error: 'the drbot process stopped while the run was in progress',
    });
    expect(store.events(run.id)).toEqual([
      expect.objectContaining({ at: at(60), type: 'error', message: expect.stringContaining('interrupted') }),
    ]);
    expect(store.getSet('set-writing')).toMatchObject({ status: 'failed', error: 'interrupted' });
    expect(store.getSet('set-done')?.status).toBe('complete');
  });

  it('keeps an error the run already had', () => {
    const run = newRun(store);
    store.updateRun(run.id, { error: 'S3 upload failed' });
    setOwner(run.id, `${hostname()}:${deadPid()}`);

    store.interruptRunning(at(60));

    expect(store.getRun(run.id)?.error).toBe('S3 upload failed');
  });

  it('leaves alone runs whose owner process is alive, or on another host', () => {
    const live = newRun(store);
    const remote = newRun(store);
    setOwner(live.id, `${hostname()}:${process.ppid}`);
    setOwner(remote.id, `some-other-host-${hostname()}:${deadPid()}`);
    store.createSet({ id: 'set-live', runId: live.id, createdAt: at(1) });

    const interrupted = store.interruptRunning(at(60));

    expect(interrupted).toEqual([]);
    expect(store.getRun(live.id)?.status).toBe('running');
    expect(store.getRun(remote.id)?.status).toBe('running');
    expect(store.getSet('set-live')?.status).toBe('writing');
    expect(store.events(live.id)).toEqual([]);
  });

  it('treats runs recorded under this very process as left over from before a restart', () => {
    const run = newRun(store); // owner is this host and pid, as after a restart that reused the pid

    const interrupted = store.interruptRunning(at(60));

    expect(interrupted.map((r) => r.id)).toEqual([run.id]);
  });

  it('treats a run without owner as interrupted', () => {
    const run = newRun(store);
    setOwner(run.id, null);

    const interrupted = store.interruptRunning(at(60));

    expect(interrupted.map((r) => r.id)).toEqual([run.id]);
  });

  it('touches only running runs', () => {
    const waiting = newRun(store, { status: 'pending-approval' });
    const done = newRun(store);
    store.updateRun(done.id, { status: 'succeeded', endedAt: at(5) });
    setOwner(waiting.id, `${hostname()}:${deadPid()}`);
    setOwner(done.id, `${hostname()}:${deadPid()}`);

    const interrupted = store.interruptRunning(at(60));

    expect(interrupted).toEqual([]);
    expect(store.getRun(waiting.id)?.status).toBe('pending-approval');
    expect(store.getRun(done.id)).toMatchObject({ status: 'succeeded', endedAt: at(5) });
  });

  it('keeps its data when the file is opened again', () => {
    const run = newRun(store);
    store.appendEvent(run.id, { at: at(1), type: 'info', message: 'kept' });
    const path = raw.name;

    const reopened = openSqliteStore(path);
    const events = reopened.events(run.id);
    const next = newRun(reopened);
    reopened.close();

    expect(events.map((e) => e.message)).toEqual(['kept']);
    expect(next.id).toBe('run-2');
  });

  it('liveRuns: running runs of this process, of live processes and of other hosts; not of dead ones', () => {
    const ours = newRun(store);
    const neighbour = newRun(store);
    const remote = newRun(store);
    const dead = newRun(store);
    const waiting = newRun(store, { status: 'pending-approval' });
    const done = newRun(store);
    store.updateRun(done.id, { status: 'succeeded' });
    setOwner(neighbour.id, `${hostname()}:${process.ppid}`);
    setOwner(remote.id, `some-other-host-${hostname()}:${deadPid()}`);
    setOwner(dead.id, `${hostname()}:${deadPid()}`);

    const live = store.liveRuns();

    // Waiting for approval writes nothing; the dead process's run is debris to clean up.
    expect(live.map((r) => r.id)).toEqual([ours.id, neighbour.id, remote.id]);
    expect(live.map((r) => r.id)).not.toContain(waiting.id);
  });
});
