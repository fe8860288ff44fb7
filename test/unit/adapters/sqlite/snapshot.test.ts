// SqliteStore snapshots and catalog rebuild: snapshotTo, isEmpty, importSnapshot, importSet, reconcileLocations.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, SCHEMA_VERSION } from '../../../../src/adapters/sqlite/migrations.js';
import { openSqliteStore, type SqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import type { RunStatus } from '../../../../src/domain/runs.js';
import type { ImportedSet } from '../../../../src/ports/state-store.js';

const T0 = new Date('2026-06-01T10:00:00.000Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

let dir: string;
const stores: SqliteStore[] = [];

function open(name: string): SqliteStore {
  const store = openSqliteStore(join(dir, name));
  stores.push(store);
  return store;
}

function newRun(store: SqliteStore, status: RunStatus = 'running', minute = 0) {
  return store.createRun({ kind: 'backup', requester: 'U0TEST', target: 'all', status, at: at(minute) });
}

/** A complete set of one artifact confirmed on `local` and `s3`, as a backup run leaves it. */
function completeSet(store: SqliteStore, runId: string, setId: string, minute: number) {
  store.createSet({ id: setId, runId, createdAt: at(minute) });
  const id = store.addArtifact({
    setId,
    asset: 'main',
    kind: 'mysql-dump',
    file: 'main.sql.gz',
    compression: 'gzip',
    startedAt: at(minute),
    meta: { container: 'mysql-prod', engine: 'mysql' },
  });
  store.updateArtifact(id, {
    size: 1234,
    rawSize: 5678,
    sha256: 'a'.repeat(64),
    engineVersion: '8.0.36',
    endedAt: at(minute + 1),
    status: 'complete',
    verifiedAt: at(minute + 2),
  });
  for (const target of ['local', 's3'])
    store.setLocation(id, {
      target,
      key: `${setId}/main.sql.gz`,
      status: 'confirmed',
      confirmedAt: at(minute + 2),
    });
  store.updateSet(setId, { status: 'complete', completedAt: at(minute + 2) });
  return id;
}

/** Reads a file as sqlite3 would, outside the store. */
function readOnly<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** A state file at an older or newer schema version, written without the store. */
function rawState(file: string, version: number, fill: (db: Database.Database) => void = () => {}): void {
  const db = new Database(file);
  for (const sql of MIGRATIONS.slice(0, Math.min(version, MIGRATIONS.length))) db.exec(sql);
  fill(db);
  db.pragma(`user_version = ${version}`);
  db.close();
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'drbot-snapshot-'));
});

afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('snapshotTo', () => {
  it('takes a consistent copy while runs and sets are being written', async () => {
    const store = open('state.sqlite');
    for (let i = 0; i < 20; i++) completeSet(store, newRun(store, 'succeeded', i).id, `set-${i}`, i);
    // ~2 MB of pages: the backup copies 100 pages per step, so it spans many event-loop turns.
    store.setNote('padding', 'x'.repeat(2_000_000));
    const file = join(dir, 'snapshots', 'state.sqlite');
    let done = false;

    const snapshot = store.snapshotTo(file).then(() => {
      done = true;
    });
    let during = 0;
    while (!done) {
      completeSet(store, newRun(store, 'succeeded', 100 + during).id, `set-during-${during}`, 100 + during);
      during++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await snapshot;

    expect(during).toBeGreaterThan(1);
    readOnly(file, (db) => {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.pragma('foreign_key_check')).toEqual([]);
      const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
      expect(count('SELECT COUNT(*) AS n FROM runs')).toBe(20 + during);
      expect(count("SELECT COUNT(*) AS n FROM sets WHERE status = 'complete'")).toBe(20 + during);
      expect(count('SELECT COUNT(*) AS n FROM locations')).toBe(2 * (20 + during));
    });
  });

  it('writes one self-contained file in rollback mode, replacing an older one', async () => {
    const store = open('state.sqlite');
    newRun(store);
    const file = join(dir, 'out', 'state.sqlite');
    await store.snapshotTo(file);
    newRun(store);

    await store.snapshotTo(file);

    const runs = readOnly(file, (db) => {
      expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
      return (db.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n;
    });
    expect(runs).toBe(2);
    expect(readdirSync(join(dir, 'out'))).toEqual(['state.sqlite']);
  });
});

describe('isEmpty', () => {
  it('is true with no runs and no sets, whatever notes and alerts there are', () => {
    const store = open('state.sqlite');
    store.setNote('last-slot', '2026-06-01T10:00');
    store.saveAlert({
      asset: 'main',
      kind: 'rpo',
      open: true,
      since: T0,
      detail: 'no backup yet',
      notifiedAt: undefined,
      closedAt: undefined,
    });

    expect(store.isEmpty()).toBe(true);
  });

  it('is false once a run exists', () => {
    const store = open('state.sqlite');
    newRun(store, 'succeeded');

    expect(store.isEmpty()).toBe(false);
  });
});

describe('importSnapshot', () => {
  /** A snapshot of a state with a finished backup, a backup in progress and a pending restore. */
  async function snapshotWithRunsInProgress() {
    const old = open('old.sqlite');
    const done = newRun(old, 'succeeded', 0);
    completeSet(old, done.id, 'set-done', 0);
    old.updateRun(done.id, { endedAt: at(3), result: { setId: 'set-done' } });
    old.appendEvent(done.id, { at: at(1), stage: 'dump', type: 'stage-start', message: 'dump' });
    const taking = newRun(old, 'running', 10);
    completeSet(old, taking.id, 'set-taking', 10);
    const other = newRun(old, 'running', 11);
    old.createSet({ id: 'set-other', runId: other.id, createdAt: at(11) });
    const pending = old.createRun({
      kind: 'restore',
      requester: 'U0OPS',
      target: 'db-only',
      status: 'pending-approval',
      at: at(12),
    });
    old.saveAlert({
      asset: 'main',
      kind: 'rpo',
      open: true,
      since: at(5),
      detail: 'newest verified set is 20m old',
      notifiedAt: at(5),
      closedAt: undefined,
    });
    old.setNote('last-slot', 'old');
    old.setNote('digest', 'weekly');
    const file = join(dir, 'snapshot.sqlite');
    await old.snapshotTo(file);
    return { old, file, done, taking, other, pending };
  }

  it('copies every run, event, set, artifact, location, alert and note', async () => {
    const { old, file, done } = await snapshotWithRunsInProgress();
    const store = open('new.sqlite');

    const counts = store.importSnapshot(file, at(60));

    expect(counts).toEqual({ runs: 4, sets: 3 });
    expect(store.getRun(done.id)).toEqual(old.getRun(done.id));
    expect(store.events(done.id)).toEqual(old.events(done.id));
    expect(store.getSet('set-done')).toEqual(old.getSet('set-done'));
    expect(store.alerts()).toEqual(old.alerts());
    expect(store.getNote('digest')).toBe('weekly');
  });

  it('marks runs in progress interrupted, and their unfinished sets failed', async () => {
    const { file, other, pending } = await snapshotWithRunsInProgress();
    const store = open('new.sqlite');

    store.importSnapshot(file, at(60));

    for (const id of [other.id, pending.id]) {
      expect(store.getRun(id)).toMatchObject({
        status: 'interrupted',
        endedAt: at(60),
        error: 'the state was restored from a snapshot taken while this run was in progress',
      });
      expect(store.events(id).at(-1)).toMatchObject({
        type: 'error',
        message: 'interrupted: the state was restored from a snapshot taken while this run was in progress',
      });
    }
    expect(store.getSet('set-other')).toMatchObject({ status: 'failed', error: 'interrupted' });
  });

  it('gives the runs named as finished their status, ending when their set completed', async () => {
    const { file, taking } = await snapshotWithRunsInProgress();
    const store = open('new.sqlite');

    store.importSnapshot(file, at(60), { [taking.id]: 'succeeded' });

    expect(store.getRun(taking.id)).toMatchObject({ status: 'succeeded', endedAt: at(12), error: undefined });
    expect(store.events(taking.id).at(-1)).toMatchObject({
      type: 'info',
      message:
        'the state was restored from a snapshot taken while this run was in progress; it is known to have succeeded',
    });
    expect(store.getSet('set-taking')?.status).toBe('complete');
  });

  it('numbers new runs after the imported ones, even past numbers the snapshot no longer holds', async () => {
    const { file } = await snapshotWithRunsInProgress();
    const store = open('new.sqlite');
    store.importSnapshot(file, at(60));
    expect(newRun(store).id).toBe('run-5');
    const db = new Database(file);
    db.prepare("UPDATE sqlite_sequence SET seq = 41 WHERE name = 'runs'").run();
    db.close();
    const other = open('other.sqlite');

    other.importSnapshot(file, at(60));

    expect(newRun(other).id).toBe('run-42');
  });

  it('keeps notes this store already has: they are newer than the snapshot', async () => {
    const { file } = await snapshotWithRunsInProgress();
    const store = open('new.sqlite');
    store.setNote('last-slot', 'new');

    store.importSnapshot(file, at(60));

    expect(store.getNote('last-slot')).toBe('new');
    expect(store.getNote('digest')).toBe('weekly');
  });

  it('refuses a store that already holds runs, changing nothing', async () => {
    const { file } = await snapshotWithRunsInProgress();
    const store = open('new.sqlite');
    newRun(store, 'succeeded');

    expect(() => store.importSnapshot(file, at(60))).toThrow(
      'the state already holds runs or sets: a snapshot can only be imported into an empty state',
    );
    expect(store.listRuns(10)).toHaveLength(1);
  });

  it('migrates a snapshot of an older schema on a copy, leaving the file as it was', () => {
    const file = join(dir, 'v2.sqlite');
    rawState(file, 2, (db) => {
      db.prepare(
        "INSERT INTO runs (id, kind, requester, target, status, created_at) VALUES ('run-1', 'backup', 'cron', 'all', 'succeeded', ?)",
      ).run(at(0).toISOString());
      db.prepare(
        "INSERT INTO sets (id, run_id, created_at, completed_at, status) VALUES ('set-1', 'run-1', ?, ?, 'complete')",
      ).run(at(0).toISOString(), at(1).toISOString());
    });
    const store = open('new.sqlite');

    const counts = store.importSnapshot(file, at(60));

    expect(counts).toEqual({ runs: 1, sets: 1 });
    expect(store.getSet('set-1')).toMatchObject({ purpose: 'backup', status: 'complete' });
    expect(store.cancelRequested('run-1')).toBeUndefined();
    expect(readOnly(file, (db) => db.pragma('user_version', { simple: true }))).toBe(2);
    expect(newRun(store).id).toBe('run-2');
  });

  it('refuses a snapshot of a newer schema, saying so', () => {
    const file = join(dir, 'future.sqlite');
    rawState(file, SCHEMA_VERSION + 1);
    const store = open('new.sqlite');

    expect(() => store.importSnapshot(file, at(60))).toThrow(
      `has state schema version ${SCHEMA_VERSION + 1}, newer than this drbot's ${SCHEMA_VERSION}`,
    );
    expect(store.isEmpty()).toBe(true);
  });

  it('refuses a file that is not a drbot state', () => {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'not a database at all, just some words that fill more than a header\n'.repeat(20));
    const foreign = join(dir, 'foreign.sqlite');
    const db = new Database(foreign);
    db.exec('CREATE TABLE things (x)');
    db.close();
    const store = open('new.sqlite');

    expect(() => store.importSnapshot(text, at(60))).toThrow('is not a drbot state snapshot');
    expect(() => store.importSnapshot(foreign, at(60))).toThrow('is not a drbot state snapshot');
  });

  it('refuses to record a run as finished with a status that is not final', async () => {
    const { file, taking } = await snapshotWithRunsInProgress();
    const store = open('new.sqlite');

    expect(() => store.importSnapshot(file, at(60), { [taking.id]: 'running' })).toThrow(
      'not a final status',
    );
    expect(store.isEmpty()).toBe(true);
  });
});

describe('importSet', () => {
  const manifestSet = (overrides: Partial<ImportedSet> = {}): ImportedSet => ({
    id: 'set-20260601-1200',
    runId: 'run-7',
    purpose: 'backup',
    createdAt: at(120),
    completedAt: at(125),
    artifacts: [
      {
        asset: 'main',
        kind: 'mysql-dump',
        file: 'main.sql.gz',
        size: 2048,
        rawSize: 9000,
        sha256: 'b'.repeat(64),
        compression: 'gzip',
        engineVersion: '8.0.36',
        startedAt: at(120),
        endedAt: at(122),
        meta: { container: 'mysql-prod', engine: 'mysql' },
        locations: [
          { target: 'local', key: 'k/main.sql.gz', status: 'confirmed', confirmedAt: at(130) },
          { target: 's3', key: 'k/main.sql.gz', status: 'missing', confirmedAt: undefined },
        ],
      },
      {
        asset: 'uploads',
        kind: 'volume-tar',
        file: 'uploads.tar.gz',
        size: 4096,
        rawSize: undefined,
        sha256: 'c'.repeat(64),
        compression: 'gzip',
        engineVersion: undefined,
        startedAt: at(121),
        endedAt: undefined,
        meta: { labels: { tier: 'critical' } },
        locations: [{ target: 'local', key: 'k/uploads.tar.gz', status: 'confirmed', confirmedAt: at(130) }],
      },
    ],
    ...overrides,
  });

  it('records the set and its artifacts complete, verified when the set completed', () => {
    const store = open('state.sqlite');

    const added = store.importSet(manifestSet());

    expect(added).toBe(true);
    const set = store.getSet('set-20260601-1200');
    expect(set).toMatchObject({
      runId: 'run-7',
      purpose: 'backup',
      status: 'complete',
      createdAt: at(120),
      completedAt: at(125),
      verifiedAt: at(125),
      deepVerifiedAt: undefined,
    });
    expect(set?.artifacts.map((a) => [a.asset, a.status, a.verifiedAt])).toEqual([
      ['main', 'complete', at(125)],
      ['uploads', 'complete', at(125)],
    ]);
    expect(set?.artifacts[0]).toMatchObject({
      size: 2048,
      rawSize: 9000,
      sha256: 'b'.repeat(64),
      engineVersion: '8.0.36',
      endedAt: at(122),
      meta: { container: 'mysql-prod', engine: 'mysql' },
      locations: [
        { target: 'local', key: 'k/main.sql.gz', status: 'confirmed', confirmedAt: at(130) },
        { target: 's3', key: 'k/main.sql.gz', status: 'missing', confirmedAt: undefined },
      ],
    });
    expect(set?.artifacts[1]).toMatchObject({
      rawSize: undefined,
      engineVersion: undefined,
      endedAt: undefined,
    });
  });

  it('gives a run it does not know a placeholder, and numbers new runs after it', () => {
    const store = open('state.sqlite');
    newRun(store, 'succeeded');

    store.importSet(manifestSet());

    expect(store.getRun('run-7')).toEqual({
      id: 'run-7',
      kind: 'backup',
      requester: 'catalog-rebuild',
      target: 'all',
      status: 'succeeded',
      createdAt: at(120),
      startedAt: at(120),
      endedAt: at(125),
      error: undefined,
      result: {},
    });
    expect(store.events('run-7')[0]?.message).toContain('catalog rebuild');
    expect([newRun(store).id, newRun(store).id]).toEqual(['run-8', 'run-9']);
  });

  it('takes no number from new runs for a run id outside the run-<n> form', () => {
    const store = open('state.sqlite');
    newRun(store, 'succeeded');

    store.importSet(manifestSet({ runId: 'nightly-42' }));
    store.importSet(manifestSet({ id: 'set-2', runId: 'nightly-43' }));

    expect(store.getRun('nightly-42')?.requester).toBe('catalog-rebuild');
    expect(newRun(store).id).toBe('run-2');
    expect(store.listRuns(10).map((r) => r.id)).toEqual(['run-2', 'run-1', 'nightly-42', 'nightly-43']);
  });

  it('attaches the set to a run the store already has, leaving the run as it is', () => {
    const store = open('state.sqlite');
    const run = newRun(store, 'failed');

    store.importSet(manifestSet({ runId: run.id }));

    expect(store.getRun(run.id)).toEqual(run);
    expect(store.getSet('set-20260601-1200')?.runId).toBe(run.id);
  });

  it('returns false and changes nothing when the set already exists', () => {
    const store = open('state.sqlite');
    const run = newRun(store, 'running');
    store.createSet({ id: 'set-20260601-1200', runId: run.id, createdAt: at(120) });
    const before = store.getSet('set-20260601-1200');

    const added = store.importSet(manifestSet());

    expect(added).toBe(false);
    expect(store.getSet('set-20260601-1200')).toEqual(before);
    expect(store.getRun('run-7')).toBeUndefined();
  });

  it('writes nothing at all when one artifact cannot be recorded', () => {
    const store = open('state.sqlite');
    const set = manifestSet();
    const twice = { ...set, artifacts: [set.artifacts[0], set.artifacts[0]] } as ImportedSet;

    expect(() => store.importSet(twice)).toThrow();
    expect(store.isEmpty()).toBe(true);
  });
});

describe('reconcileLocations', () => {
  it('confirms what the target holds, marks missing what it lost, and counts the changes', () => {
    const store = open('state.sqlite');
    const run = newRun(store, 'succeeded');
    completeSet(store, run.id, 'set-kept', 0);
    completeSet(store, run.id, 'set-lost', 10);
    const back = completeSet(store, run.id, 'set-back', 20);
    const undated = completeSet(store, run.id, 'set-undated', 30);
    store.setLocation(back, {
      target: 's3',
      key: 'set-back/main.sql.gz',
      status: 'missing',
      confirmedAt: at(22),
    });
    store.setLocation(undated, {
      target: 's3',
      key: 'set-undated/main.sql.gz',
      status: 'confirmed',
      confirmedAt: undefined,
    });
    const onS3 = new Set(['set-kept/main.sql.gz', 'set-back/main.sql.gz', 'set-undated/main.sql.gz']);

    const changed = store.reconcileLocations('s3', (key) => onS3.has(key), at(90));

    const s3 = (setId: string) => store.getSet(setId)?.artifacts[0]?.locations.find((l) => l.target === 's3');
    expect(changed).toBe(2);
    expect(s3('set-kept')).toMatchObject({ status: 'confirmed', confirmedAt: at(2) });
    expect(s3('set-lost')).toMatchObject({ status: 'missing', confirmedAt: at(12) });
    expect(s3('set-back')).toMatchObject({ status: 'confirmed', confirmedAt: at(22) });
    expect(s3('set-undated')).toMatchObject({ status: 'confirmed', confirmedAt: at(90) });
    expect(store.getSet('set-lost')?.artifacts[0]?.locations.find((l) => l.target === 'local')?.status).toBe(
      'confirmed',
    );
  });

  it('leaves copies being written, failed or deleted alone', () => {
    const store = open('state.sqlite');
    const run = newRun(store, 'succeeded');
    const statuses = ['writing', 'failed', 'deleted'] as const;
    statuses.forEach((status, i) => {
      const id = completeSet(store, run.id, `set-${status}`, i * 10);
      store.setLocation(id, {
        target: 's3',
        key: `set-${status}/main.sql.gz`,
        status,
        confirmedAt: undefined,
      });
    });

    const present = store.reconcileLocations('s3', () => true, at(90));
    const absent = store.reconcileLocations('s3', () => false, at(90));

    expect([present, absent]).toEqual([0, 0]);
    for (const status of statuses)
      expect(
        store.getSet(`set-${status}`)?.artifacts[0]?.locations.find((l) => l.target === 's3'),
      ).toMatchObject({
        status,
        confirmedAt: undefined,
      });
  });

  it('changes nothing when the check throws part way', () => {
    const store = open('state.sqlite');
    const run = newRun(store, 'succeeded');
    completeSet(store, run.id, 'set-a', 0);
    completeSet(store, run.id, 'set-b', 10);
    let calls = 0;

    expect(() =>
      store.reconcileLocations(
        's3',
        () => {
          calls++;
          if (calls > 1) throw new Error('listing failed');
          return false;
        },
        at(90),
      ),
    ).toThrow('listing failed');
    expect(
      store.listSets().flatMap((s) => s.artifacts.flatMap((a) => a.locations.map((l) => l.status))),
    ).toEqual(['confirmed', 'confirmed', 'confirmed', 'confirmed']);
  });
});
