// The catalog of archived logs for point-in-time recovery, in the SQLite state file.
import type Database from 'better-sqlite3';
import { basePrefix, type PitrLog } from '../../domain/pitr.js';

/** The migration that adds the log catalog (appended to MIGRATIONS). */
export const PITR_MIGRATION = `
  CREATE TABLE pitr_logs (
    asset TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    size INTEGER NOT NULL,
    raw_size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    archived_at TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    targets TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (asset, key)
  ) WITHOUT ROWID;
  CREATE INDEX pitr_logs_time ON pitr_logs(asset, first_at);
`;

interface Row {
  asset: string;
  key: string;
  name: string;
  seq: number;
  first_at: string;
  last_at: string;
  size: number;
  raw_size: number;
  sha256: string;
  archived_at: string;
  status: PitrLog['status'];
  error: string | null;
  targets: string;
}

const toLog = (r: Row): PitrLog => ({
  asset: r.asset,
  key: r.key,
  name: r.name,
  seq: r.seq,
  firstAt: new Date(r.first_at),
  lastAt: new Date(r.last_at),
  size: r.size,
  rawSize: r.raw_size,
  sha256: r.sha256,
  archivedAt: new Date(r.archived_at),
  status: r.status,
  error: r.error ?? undefined,
  targets: JSON.parse(r.targets) as string[],
});

/** Records (or replaces) an archived log. */
export function savePitrLog(db: Database.Database, log: PitrLog): void {
  db.prepare(
    `INSERT OR REPLACE INTO pitr_logs
      (asset, key, name, seq, first_at, last_at, size, raw_size, sha256, archived_at, status, error, targets)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    log.asset,
    log.key,
    log.name,
    log.seq,
    log.firstAt.toISOString(),
    log.lastAt.toISOString(),
    log.size,
    log.rawSize,
    log.sha256,
    log.archivedAt.toISOString(),
    log.status,
    log.error ?? null,
    JSON.stringify(log.targets),
  );
}

/** An asset's logs not pruned, oldest first (PostgreSQL base backups, kept beside them, are not logs). */
export function pitrLogs(db: Database.Database, asset: string): PitrLog[] {
  const bases = basePrefix(asset);
  return (
    db
      .prepare(
        "SELECT * FROM pitr_logs WHERE asset = ? AND status != 'pruned' AND substr(key, 1, ?) != ? ORDER BY first_at, seq",
      )
      .all(asset, bases.length, bases) as Row[]
  ).map(toLog);
}

/**
 * An asset's PostgreSQL base backups not pruned, oldest first, as log records: `name` and `seq`
 * are the WAL segment their replay starts in, `firstAt` when they began, `lastAt` when they
 * became consistent.
 */
export function pitrBases(db: Database.Database, asset: string): PitrLog[] {
  const bases = basePrefix(asset);
  return (
    db
      .prepare(
        "SELECT * FROM pitr_logs WHERE asset = ? AND status != 'pruned' AND substr(key, 1, ?) = ? ORDER BY first_at, seq",
      )
      .all(asset, bases.length, bases) as Row[]
  ).map(toLog);
}

/** Marks a log failed (a copy missing or different) or pruned. */
export function markPitrLog(
  db: Database.Database,
  asset: string,
  key: string,
  status: PitrLog['status'],
  error?: string,
): void {
  db.prepare('UPDATE pitr_logs SET status = ?, error = ? WHERE asset = ? AND key = ?').run(
    status,
    error ?? null,
    asset,
    key,
  );
}
