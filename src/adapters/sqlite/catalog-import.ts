// Catalog rebuild writes: sets known only from their manifests, and copies checked against a target.
import type Database from 'better-sqlite3';
import type { LocationStatus } from '../../domain/runs.js';
import type { ImportedSet, StateStore } from '../../ports/state-store.js';

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);

/** Records a set found only as a manifest (see StateStore.importSet); false if it exists. */
export function importSet(
  db: Database.Database,
  store: Pick<StateStore, 'appendEvent'>,
  set: ImportedSet,
): boolean {
  const tx = db.transaction(() => {
    if (db.prepare('SELECT 1 FROM sets WHERE id = ?').get(set.id)) return false;
    if (!db.prepare('SELECT 1 FROM runs WHERE id = ?').get(set.runId)) addPlaceholderRun(db, store, set);
    const completed = set.completedAt.toISOString();
    // Its checksums were confirmed on every target before its manifest was written.
    db.prepare(
      `INSERT INTO sets (id, run_id, created_at, completed_at, status, verified_at, purpose)
       VALUES (?, ?, ?, ?, 'complete', ?, ?)`,
    ).run(set.id, set.runId, set.createdAt.toISOString(), completed, completed, set.purpose);
    const addArtifact = db.prepare(
      `INSERT INTO artifacts (set_id, asset, kind, file, size, raw_size, sha256, compression, engine_version,
         started_at, ended_at, status, meta, verified_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'complete', ?, ?)`,
    );
    const addLocation = db.prepare(
      'INSERT INTO locations (artifact_id, target, key, status, confirmed_at) VALUES (?, ?, ?, ?, ?)',
    );
    for (const a of set.artifacts) {
      const { lastInsertRowid } = addArtifact.run(
        set.id,
        a.asset,
        a.kind,
        a.file,
        a.size,
        a.rawSize ?? null,
        a.sha256,
        a.compression,
        a.engineVersion ?? null,
        a.startedAt.toISOString(),
        iso(a.endedAt),
        JSON.stringify(a.meta),
        completed,
      );
      for (const l of a.locations)
        addLocation.run(lastInsertRowid, l.target, l.key, l.status, iso(l.confirmedAt));
    }
    return true;
  });
  // IMMEDIATE: the existence checks and the inserts happen under one write lock.
  return tx.immediate();
}

/**
 * A stand-in for a run the store has no record of, so the set keeps its run id. A `run-<n>` id
 * takes row number n: AUTOINCREMENT then numbers new runs after it, so createRun never mints
 * an id a set on the targets already names. Any other id takes a negative row number, outside
 * the sequence, and so uses up no number of new runs.
 */
function addPlaceholderRun(db: Database.Database, store: Pick<StateStore, 'appendEvent'>, set: ImportedSet) {
  const n = /^run-([1-9][0-9]*)$/.exec(set.runId)?.[1];
  const seq =
    n !== undefined &&
    Number.isSafeInteger(Number(n)) &&
    !db.prepare('SELECT 1 FROM runs WHERE seq = ?').get(Number(n))
      ? Number(n)
      : Math.min(
          0,
          (db.prepare('SELECT MIN(seq) AS low FROM runs').get() as { low: number | null }).low ?? 0,
        ) - 1;
  db.prepare(
    `INSERT INTO runs (seq, id, kind, requester, target, status, created_at, started_at, ended_at)
     VALUES (?, ?, 'backup', 'catalog-rebuild', 'all', 'succeeded', ?, ?, ?)`,
  ).run(
    seq,
    set.runId,
    set.createdAt.toISOString(),
    set.createdAt.toISOString(),
    set.completedAt.toISOString(),
  );
  store.appendEvent(set.runId, {
    at: set.completedAt,
    type: 'info',
    message: `recorded by a catalog rebuild from the manifest of set ${set.id}: the run's own record was not found`,
  });
}

/** Confirms or marks missing the copies on `target` (see StateStore.reconcileLocations). */
export function reconcileLocations(
  db: Database.Database,
  target: string,
  present: (key: string) => boolean,
  at: Date,
): number {
  const tx = db.transaction(() => {
    const changes: { rowid: number; status: LocationStatus; confirmedAt: string | null; moved: boolean }[] =
      [];
    const rows = db
      .prepare(
        "SELECT rowid, key, status, confirmed_at FROM locations WHERE target = ? AND status IN ('confirmed', 'missing')",
      )
      .iterate(target) as IterableIterator<{
      rowid: number;
      key: string;
      status: LocationStatus;
      confirmed_at: string | null;
    }>;
    // Only the rows that change are kept: a target can hold very many copies.
    for (const r of rows) {
      if (present(r.key)) {
        if (r.status !== 'confirmed' || r.confirmed_at === null)
          changes.push({
            rowid: r.rowid,
            status: 'confirmed',
            confirmedAt: r.confirmed_at ?? at.toISOString(),
            moved: r.status !== 'confirmed',
          });
      } else if (r.status === 'confirmed') {
        changes.push({ rowid: r.rowid, status: 'missing', confirmedAt: r.confirmed_at, moved: true });
      }
    }
    const update = db.prepare('UPDATE locations SET status = ?, confirmed_at = ? WHERE rowid = ?');
    for (const c of changes) update.run(c.status, c.confirmedAt, c.rowid);
    return changes.filter((c) => c.moved).length;
  });
  return tx();
}
