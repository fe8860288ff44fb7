// Consistent snapshots of the state file, and filling an empty store from one (host loss, DESIGN §9).
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { type RunStatus, TERMINAL_STATUSES } from '../../domain/runs.js';
import type { StateStore } from '../../ports/state-store.js';
import { migrate, SCHEMA_VERSION } from './migrations.js';

/** What SQLite may leave beside a database file. */
const SIDE_FILES = ['-wal', '-shm', '-journal'];

const RESTORED = 'the state was restored from a snapshot taken while this run was in progress';

/** True when the store holds no runs and no sets. */
export function stateIsEmpty(db: Database.Database): boolean {
  const row = db
    .prepare('SELECT EXISTS (SELECT 1 FROM runs) OR EXISTS (SELECT 1 FROM sets) AS found')
    .get() as { found: number };
  return row.found === 0;
}

/** Writes a consistent, self-contained copy of `db` to `file` through SQLite's online backup. */
export async function writeSnapshot(
  db: Database.Database,
  file: string,
  pagesPerStep?: number,
): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  // Written beside the destination and renamed once whole: whoever reads `file` (an upload)
  // never sees half a snapshot.
  const partial = `${file}.partial`;
  const removeAll = (path: string) => {
    for (const suffix of ['', ...SIDE_FILES]) rmSync(`${path}${suffix}`, { force: true });
  };
  removeAll(partial);
  try {
    // The backup copies pages between steps; writes made through this connection meanwhile are
    // carried into the copy, so it holds the state of one instant, never half a transaction.
    await db.backup(partial, pagesPerStep ? { progress: () => pagesPerStep } : undefined);
    // The copy inherits WAL mode from the live file; in rollback mode it is one file that opens
    // anywhere (read-only too) without -wal/-shm files beside it.
    const copy = new Database(partial);
    try {
      copy.pragma('journal_mode = DELETE');
    } finally {
      copy.close();
    }
    // A stale journal or WAL left beside an older `file` would be applied to the new one.
    for (const suffix of SIDE_FILES) rmSync(`${file}${suffix}`, { force: true });
    renameSync(partial, file);
  } catch (err) {
    removeAll(partial);
    throw err;
  }
}

/**
 * Copies every row of the snapshot `file` into the empty `db`, in one transaction, then settles
 * the runs that were in progress when it was taken (see StateStore.importSnapshot).
 */
export function importSnapshot(
  db: Database.Database,
  store: Pick<StateStore, 'appendEvent'>,
  file: string,
  at: Date,
  finished: Record<string, RunStatus> = {},
): { runs: number; sets: number } {
  for (const [id, status] of Object.entries(finished)) {
    if (!TERMINAL_STATUSES.includes(status))
      throw new Error(`run ${id} cannot be recorded as finished with status '${status}': not a final status`);
  }
  const refuseUnlessEmpty = () => {
    if (!stateIsEmpty(db))
      throw new Error(
        'the state already holds runs or sets: a snapshot can only be imported into an empty state',
      );
  };
  refuseUnlessEmpty(); // before copying a file that may be large for nothing
  const dir = mkdtempSync(join(tmpdir(), 'drbot-import-'));
  try {
    const copy = join(dir, 'snapshot.sqlite');
    prepareCopy(file, copy);
    db.prepare('ATTACH DATABASE ? AS snapshot').run(copy); // not allowed inside a transaction
    try {
      const tx = db.transaction(() => {
        refuseUnlessEmpty(); // again under the write lock: nothing may have slipped in since
        const counts = copyRows(db);
        settleInProgress(db, store, at, finished);
        return counts;
      });
      // IMMEDIATE: the write lock is taken before the emptiness check, not at the first insert.
      return tx.immediate();
    } finally {
      db.exec('DETACH DATABASE snapshot');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Copies the snapshot to `copy` (the snapshot itself is never opened for writing) and brings the
 * copy to our schema version, refusing what is not a drbot state or is newer than this build.
 */
function prepareCopy(file: string, copy: string): void {
  // A plain file copy is safe here: a snapshot is at rest, unlike the live state file.
  copyFileSync(file, copy);
  const snap = new Database(copy);
  try {
    let version: number;
    let hasRuns: boolean;
    try {
      snap.pragma('journal_mode = DELETE');
      version = snap.pragma('user_version', { simple: true }) as number;
      hasRuns =
        snap.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'").get() !==
        undefined;
    } catch (err) {
      throw new Error(`${file} is not a drbot state snapshot: ${(err as Error).message}`, { cause: err });
    }
    if (version === 0 || !hasRuns)
      throw new Error(`${file} is not a drbot state snapshot: it has no drbot schema`);
    if (version > SCHEMA_VERSION)
      throw new Error(
        `${file} has state schema version ${version}, newer than this drbot's ${SCHEMA_VERSION}: ` +
          'import it with a drbot at least as new as the one that wrote it',
      );
    migrate(snap);
    // Checked here so a broken snapshot is refused by name, not by a bare constraint error at commit.
    const dangling = snap.pragma('foreign_key_check') as { table: string; parent: string }[];
    if (dangling.length) {
      const first = dangling[0] as { table: string; parent: string };
      throw new Error(
        `${file} is inconsistent: ${dangling.length} row(s) point at rows it does not hold (first: ${first.table} → ${first.parent})`,
      );
    }
  } finally {
    snap.close();
  }
}

/** Tables the triggers of migration 5 keep from other tables' rows: never copied. */
const DERIVED = new Set(['run_counts', 'run_assets', 'catalog_assets']);

/** INSERT … SELECT for every table we have, keeping ids (locations point at artifact ids). */
function copyRows(db: Database.Database): { runs: number; sets: number } {
  // Tables are copied in name order, not parent first: foreign keys are checked at commit.
  db.pragma('defer_foreign_keys = ON');
  const tables = (
    db
      .prepare(
        "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .all() as { name: string }[]
  ).map((t) => t.name);
  const counts = { runs: 0, sets: 0 };
  for (const table of tables) {
    // Summaries kept by triggers are filled by the triggers as the rows they sum arrive.
    if (DERIVED.has(table)) continue;
    const theirs = new Set(
      (
        db.prepare('SELECT name FROM pragma_table_info(?, ?)').all(table, 'snapshot') as { name: string }[]
      ).map((c) => c.name),
    );
    if (!theirs.size) continue;
    const cols = (
      db.prepare('SELECT name FROM pragma_table_info(?, ?)').all(table, 'main') as { name: string }[]
    )
      .map((c) => c.name)
      .filter((c) => theirs.has(c))
      .map((c) => `"${c}"`)
      .join(', ');
    // The catalog tables are empty here (checked above) and take every row. Others (alerts,
    // notes) may have rows written since start-up: those are newer than the snapshot and stay.
    const verb = db.prepare(`SELECT 1 FROM main."${table}" LIMIT 1`).get() ? 'INSERT OR IGNORE' : 'INSERT';
    const info = db
      .prepare(`${verb} INTO main."${table}" (${cols}) SELECT ${cols} FROM snapshot."${table}"`)
      .run();
    if (table === 'runs' || table === 'sets') counts[table] = info.changes;
  }
  // Explicit ids already move AUTOINCREMENT past the copied rows; this also covers numbers the
  // snapshot had used for rows it no longer holds, so `run-<n>` never names two runs.
  db.exec(`
    UPDATE main.sqlite_sequence
       SET seq = (SELECT s.seq FROM snapshot.sqlite_sequence s WHERE s.name = main.sqlite_sequence.name)
     WHERE seq < (SELECT s.seq FROM snapshot.sqlite_sequence s WHERE s.name = main.sqlite_sequence.name);
    INSERT INTO main.sqlite_sequence (name, seq)
      SELECT s.name, s.seq FROM snapshot.sqlite_sequence s
       WHERE s.name NOT IN (SELECT name FROM main.sqlite_sequence)
         AND s.name IN (SELECT name FROM main.sqlite_master WHERE type = 'table');
  `);
  return counts;
}

/** Runs the snapshot caught in progress: `interrupted`, or what `finished` says they became. */
function settleInProgress(
  db: Database.Database,
  store: Pick<StateStore, 'appendEvent'>,
  at: Date,
  finished: Record<string, RunStatus>,
): void {
  const open = db
    .prepare("SELECT id FROM runs WHERE status IN ('running', 'pending-approval') ORDER BY seq")
    .all() as { id: string }[];
  for (const { id } of open) {
    const status = Object.hasOwn(finished, id) ? finished[id] : undefined;
    if (status) {
      // Its real end is not in the snapshot; its set's completion is the nearest known time.
      db.prepare(
        `UPDATE runs SET status = ?,
           ended_at = COALESCE(ended_at, (SELECT MAX(completed_at) FROM sets WHERE run_id = runs.id), ?)
         WHERE id = ?`,
      ).run(status, at.toISOString(), id);
      store.appendEvent(id, { at, type: 'info', message: `${RESTORED}; it is known to have ${status}` });
      continue;
    }
    db.prepare(
      "UPDATE runs SET status = 'interrupted', ended_at = ?, error = COALESCE(error, ?) WHERE id = ?",
    ).run(at.toISOString(), RESTORED, id);
    store.appendEvent(id, { at, type: 'error', message: `interrupted: ${RESTORED}` });
    // As at start-up: a set the run was still writing can never become complete.
    db.prepare(
      "UPDATE sets SET status = 'failed', error = 'interrupted' WHERE run_id = ? AND status = 'writing'",
    ).run(id);
  }
}
