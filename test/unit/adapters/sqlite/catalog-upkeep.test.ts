// The summary tables kept by triggers, and catalog compaction: what goes, what stays, in steps.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import { compactCatalog } from '../../../../src/engine/catalog/compact.js';

const DAY = 86_400_000;
const NOW = new Date('2026-06-01T12:00:00.000Z');
const daysAgo = (d: number) => new Date(NOW.getTime() - d * DAY);
const clock = { now: () => new Date(NOW), monotonic: () => 0, sleep: async () => undefined };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'drbot-upkeep-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A backup run of `asset` at `at` with `info` info events, its set complete with one artifact on two targets. */
function backup(store: SqliteStore, asset: string, at: Date, info = 3) {
  const run = store.createRun({ kind: 'backup', requester: 'U1', target: 'all', status: 'running', at });
  store.appendEvent(run.id, { at, stage: 'inventory', type: 'stage-start', message: 'inventory' });
  for (let i = 0; i < info; i++)
    store.appendEvent(run.id, { at, stage: 'dump', type: 'info', message: `part ${i}` });
  store.appendEvent(run.id, { at, stage: 'dump', type: 'warn', message: 'slow target' });
  const setId = `set-${at.toISOString().replace(/\D/g, '').slice(0, 14)}-${asset}`;
  store.createSet({ id: setId, runId: run.id, createdAt: at });
  const id = store.addArtifact({
    setId,
    asset,
    kind: 'volume-tar',
    file: `${asset}.tar.gz`,
    compression: 'gzip',
    startedAt: at,
  });
  store.updateArtifact(id, { status: 'complete', size: 10, sha256: 'a'.repeat(64), endedAt: at });
  for (const target of ['local', 's3'])
    store.setLocation(id, { target, key: `${setId}/${asset}.tar.gz`, status: 'confirmed', confirmedAt: at });
  store.updateSet(setId, { status: 'complete', completedAt: at });
  store.updateRun(run.id, {
    status: 'succeeded',
    startedAt: at,
    endedAt: at,
    result: { assets: [asset], setId },
  });
  return { run, setId, artifactId: id };
}

function prune(store: SqliteStore, b: { setId: string; artifactId: number }, at: Date) {
  store.updateArtifact(b.artifactId, { status: 'pruned', prunedAt: at });
  for (const target of ['local', 's3'])
    store.setLocation(b.artifactId, { target, key: 'k', status: 'deleted', confirmedAt: undefined });
  store.updateSet(b.setId, { status: 'pruned' });
}

const count = (file: string, sql: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe('summary tables kept by triggers', () => {
  it('keeps run counts, run assets and set times right through inserts, status changes and imports', () => {
    const file = join(dir, 'state.db');
    const store = openSqliteStore(file);
    const a = backup(store, 'uploads', daysAgo(3));
    backup(store, 'media', daysAgo(2));
    const failed = store.createRun({
      kind: 'backup',
      requester: 'U1',
      target: 'media',
      status: 'running',
      at: daysAgo(1),
    });
    store.updateRun(failed.id, { status: 'failed', result: { assets: ['media'] } });
    store.createRun({
      kind: 'verify',
      requester: 'U1',
      target: 'latest',
      status: 'pending-approval',
      at: NOW,
    });

    expect(store.runCounts()).toEqual([
      { kind: 'backup', status: 'failed', n: 1 },
      { kind: 'backup', status: 'succeeded', n: 2 },
      { kind: 'verify', status: 'pending-approval', n: 1 },
    ]);
    expect(store.lastRun({ asset: 'media', status: ['failed'] })?.id).toBe(failed.id);
    expect(store.lastRun({ asset: 'uploads', kind: 'backup', status: ['succeeded'] })?.id).toBe(a.run.id);
    expect(store.lastRun({ asset: 'uploads', status: ['failed'] })).toBeUndefined();
    expect(store.catalogAssets()).toEqual(['media', 'uploads']);
    expect(count(file, 'SELECT COUNT(*) AS n FROM artifacts WHERE set_created_at IS NULL')).toBe(0);

    // A state rebuilt from a snapshot has the same summaries (the triggers ran on its rows).
    const snap = join(dir, 'snap.db');
    return store.snapshotTo(snap).then(() => {
      const fresh = openSqliteStore(join(dir, 'fresh.db'));
      fresh.importSnapshot(snap, NOW);
      expect(fresh.runCounts()).toEqual(
        store.runCounts().map((c) => (c.status === 'pending-approval' ? { ...c, status: 'interrupted' } : c)),
      );
      expect(fresh.lastRun({ asset: 'media', status: ['failed'] })?.id).toBe(failed.id);
      expect(fresh.newestSets().get('uploads')?.id).toBe(a.setId);
      expect(
        count(join(dir, 'fresh.db'), 'SELECT COUNT(*) AS n FROM artifacts WHERE set_created_at IS NULL'),
      ).toBe(0);
      fresh.close();
      store.close();
    });
  });
});

describe('compactCatalog', () => {
  it('removes long-pruned rows, summarises old runs’ info events, keeps the rest', async () => {
    const file = join(dir, 'state.db');
    const store = openSqliteStore(file);
    const old = backup(store, 'uploads', daysAgo(400));
    const recentlyPruned = backup(store, 'uploads', daysAgo(200));
    const kept = backup(store, 'uploads', daysAgo(100));
    const fresh = backup(store, 'uploads', daysAgo(1));
    prune(store, old, daysAgo(300));
    prune(store, recentlyPruned, daysAgo(5));

    const report = await compactCatalog({ store, clock });

    expect(report).toEqual({ artifacts: 1, sets: 1, runs: 3, events: 9 });
    expect(store.getSet(old.setId)).toBeUndefined();
    expect(store.getSet(recentlyPruned.setId)?.status).toBe('pruned');
    expect(store.getSet(kept.setId)?.artifacts).toHaveLength(1);
    // The old runs keep their stage boundaries and warnings; the info lines became a summary.
    expect(store.events(kept.run.id).map((e) => e.type)).toEqual(['stage-start', 'warn']);
    expect(store.eventsSummary(kept.run.id)?.info.dump?.n).toBe(3);
    expect(store.events(fresh.run.id)).toHaveLength(5);
    expect(store.eventsSummary(fresh.run.id)).toBeUndefined();
    // Nothing left to do: a second pass changes nothing.
    expect(await compactCatalog({ store, clock })).toEqual({ artifacts: 0, sets: 0, runs: 0, events: 0 });
    store.close();
  });

  it('keeps the catalog proportional to what is kept when sets come and go', {
    timeout: 30_000,
  }, async () => {
    const file = join(dir, 'state.db');
    const store = openSqliteStore(file);
    const rows: number[] = [];
    // Six rounds of 100 backups, each round pruning the previous round's sets (long ago).
    let previous: Array<ReturnType<typeof backup>> = [];
    for (let round = 0; round < 6; round++) {
      const made: Array<ReturnType<typeof backup>> = [];
      for (let i = 0; i < 100; i++)
        made.push(backup(store, `v${i % 5}`, daysAgo(1000 - round * 10 - i / 1000), 10));
      for (const b of previous) prune(store, b, daysAgo(400));
      await compactCatalog({ store, clock });
      previous = made;
      rows.push(
        count(
          file,
          'SELECT (SELECT COUNT(*) FROM sets) + (SELECT COUNT(*) FROM artifacts) + (SELECT COUNT(*) FROM locations) + (SELECT COUNT(*) FROM run_events) AS n',
        ),
      );
    }
    // What is kept: one round of sets (4 rows each) and every run's stage start and warning.
    expect(rows.at(-1)).toBe(100 * 4 + 6 * 100 * 2);
    expect(count(file, 'SELECT COUNT(*) AS n FROM runs WHERE events_summary IS NOT NULL')).toBe(6 * 100);
    store.close();
  });
});
