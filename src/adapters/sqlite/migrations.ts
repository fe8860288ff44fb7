// The state file's schema: versioned migrations and the function that applies them.
import type Database from 'better-sqlite3';
import { PITR_MIGRATION } from './pitr-store.js';

/**
 * Versioned schema migrations, applied in order; `PRAGMA user_version` records the last one.
 * Never edit a released migration: add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: runs with their timelines, backup sets, artifacts and where each artifact is stored.
  `
  CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    requester TEXT NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    error TEXT,
    result TEXT NOT NULL DEFAULT '{}',
    owner TEXT
  );
  CREATE TABLE run_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id),
    at TEXT NOT NULL,
    stage TEXT,
    type TEXT NOT NULL,
    message TEXT NOT NULL,
    data TEXT
  );
  CREATE INDEX run_events_run ON run_events(run_id, seq);
  CREATE TABLE sets (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id),
    created_at TEXT NOT NULL,
    completed_at TEXT,
    status TEXT NOT NULL,
    error TEXT,
    verified_at TEXT,
    deep_verified_at TEXT
  );
  CREATE INDEX sets_created ON sets(created_at);
  CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    set_id TEXT NOT NULL REFERENCES sets(id),
    asset TEXT NOT NULL,
    kind TEXT NOT NULL,
    file TEXT NOT NULL,
    size INTEGER,
    raw_size INTEGER,
    sha256 TEXT,
    compression TEXT NOT NULL,
    engine_version TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL,
    pruned_at TEXT,
    UNIQUE (set_id, asset)
  );
  CREATE INDEX artifacts_asset ON artifacts(asset, status);
  CREATE TABLE locations (
    artifact_id INTEGER NOT NULL REFERENCES artifacts(id),
    target TEXT NOT NULL,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    confirmed_at TEXT,
    PRIMARY KEY (artifact_id, target)
  );
  `,
  // 2: safety snapshots are sets too (purpose), per-artifact verification results, and what
  // a restore needs to recreate an asset that is gone (volume labels, database container).
  `
  ALTER TABLE sets ADD COLUMN purpose TEXT NOT NULL DEFAULT 'backup';
  ALTER TABLE artifacts ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE artifacts ADD COLUMN verified_at TEXT;
  ALTER TABLE artifacts ADD COLUMN deep_verified_at TEXT;
  ALTER TABLE artifacts ADD COLUMN verify_error TEXT;
  `,
  // 3: cancellation requests, and the RPO monitor's open alerts (one per asset and kind, so
  // a breach is announced once and its recovery once).
  `
  ALTER TABLE runs ADD COLUMN cancel_requested_at TEXT;
  ALTER TABLE runs ADD COLUMN cancel_requested_by TEXT;
  CREATE TABLE alerts (
    asset TEXT NOT NULL,
    kind TEXT NOT NULL,
    open INTEGER NOT NULL,
    since TEXT NOT NULL,
    detail TEXT NOT NULL,
    notified_at TEXT,
    closed_at TEXT,
    PRIMARY KEY (asset, kind)
  );
  CREATE TABLE notes (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // 4: approval cards that outlive the process that posted them (a click after a restart still
  // works, expiry still fires), and an index for the runs in progress the asset lock reads.
  `
  CREATE TABLE approvals (
    run_id TEXT PRIMARY KEY REFERENCES runs(id),
    requester TEXT NOT NULL,
    channel TEXT NOT NULL,
    message_ts TEXT,
    fingerprint TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
  );
  CREATE INDEX runs_status ON runs(status);
  `,
  // 5: reads that do not grow with the catalog. Each artifact carries its set's time, so "the
  // newest (deep-verified) artifact of an asset" is one step down an index; the assets ever
  // backed up and the assets each run worked on are small tables kept by triggers (so every
  // way a row arrives, snapshot import included, keeps them); runs are found by kind and
  // status in order; old runs' fine-grained events can be folded into a summary on the run.
  `
  ALTER TABLE artifacts ADD COLUMN set_created_at TEXT;
  UPDATE artifacts SET set_created_at = (SELECT created_at FROM sets WHERE sets.id = artifacts.set_id);
  CREATE INDEX artifacts_newest ON artifacts(asset, set_created_at DESC, set_id DESC)
    WHERE status = 'complete';
  CREATE INDEX artifacts_newest_deep ON artifacts(asset, set_created_at DESC, set_id DESC)
    WHERE status = 'complete' AND deep_verified_at IS NOT NULL;
  CREATE INDEX artifacts_pruned ON artifacts(pruned_at) WHERE status = 'pruned';
  CREATE INDEX sets_listing ON sets(status, purpose, created_at DESC, id DESC);
  -- A new run's id is written after its row: with foreign keys on, SQLite then looks for sets
  -- of the old id, which without this index reads every set.
  CREATE INDEX sets_run ON sets(run_id);
  CREATE INDEX runs_kind_status ON runs(kind, status, seq);
  CREATE TABLE catalog_assets (asset TEXT PRIMARY KEY) WITHOUT ROWID;
  INSERT OR IGNORE INTO catalog_assets (asset) SELECT DISTINCT asset FROM artifacts;
  CREATE TRIGGER artifacts_set_time AFTER INSERT ON artifacts WHEN NEW.set_created_at IS NULL BEGIN
    UPDATE artifacts SET set_created_at = (SELECT created_at FROM sets WHERE id = NEW.set_id)
      WHERE id = NEW.id;
  END;
  CREATE TRIGGER artifacts_catalog_asset AFTER INSERT ON artifacts BEGIN
    INSERT OR IGNORE INTO catalog_assets (asset) VALUES (NEW.asset);
  END;
  CREATE INDEX runs_kind ON runs(kind, seq);
  CREATE TABLE run_assets (
    run_seq INTEGER NOT NULL,
    asset TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (asset, run_seq)
  ) WITHOUT ROWID;
  CREATE INDEX run_assets_run ON run_assets(run_seq);
  CREATE INDEX run_assets_status ON run_assets(asset, status, run_seq);
  CREATE INDEX run_assets_kind ON run_assets(asset, kind, status, run_seq);
  INSERT OR IGNORE INTO run_assets (run_seq, asset, kind, status)
    SELECT runs.seq, j.value, runs.kind, runs.status FROM runs, json_each(runs.result, '$.assets') AS j
     WHERE json_valid(runs.result) AND json_type(runs.result, '$.assets') = 'array';
  CREATE TRIGGER runs_assets_on_insert AFTER INSERT ON runs
    WHEN json_valid(NEW.result) AND json_type(NEW.result, '$.assets') = 'array' BEGIN
    INSERT OR IGNORE INTO run_assets (run_seq, asset, kind, status)
      SELECT NEW.seq, value, NEW.kind, NEW.status FROM json_each(NEW.result, '$.assets');
  END;
  CREATE TRIGGER runs_assets_on_result AFTER UPDATE OF result ON runs BEGIN
    DELETE FROM run_assets WHERE run_seq = NEW.seq;
    INSERT OR IGNORE INTO run_assets (run_seq, asset, kind, status)
      SELECT NEW.seq, value, NEW.kind, NEW.status FROM json_each(NEW.result, '$.assets')
       WHERE json_valid(NEW.result) AND json_type(NEW.result, '$.assets') = 'array';
  END;
  CREATE TRIGGER runs_assets_on_status AFTER UPDATE OF status ON runs BEGIN
    UPDATE run_assets SET status = NEW.status WHERE run_seq = NEW.seq;
  END;
  CREATE TABLE run_counts (
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (kind, status)
  ) WITHOUT ROWID;
  INSERT INTO run_counts (kind, status, n) SELECT kind, status, COUNT(*) FROM runs GROUP BY kind, status;
  CREATE TRIGGER run_counts_on_insert AFTER INSERT ON runs BEGIN
    INSERT INTO run_counts (kind, status, n) VALUES (NEW.kind, NEW.status, 1)
      ON CONFLICT (kind, status) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER run_counts_on_status AFTER UPDATE OF status ON runs WHEN NEW.status IS NOT OLD.status BEGIN
    UPDATE run_counts SET n = n - 1 WHERE kind = OLD.kind AND status = OLD.status;
    INSERT INTO run_counts (kind, status, n) VALUES (NEW.kind, NEW.status, 1)
      ON CONFLICT (kind, status) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER run_counts_on_delete AFTER DELETE ON runs BEGIN
    UPDATE run_counts SET n = n - 1 WHERE kind = OLD.kind AND status = OLD.status;
  END;
  ALTER TABLE runs ADD COLUMN events_summary TEXT;
  `,
  // 6: the catalog of archived binary logs for point-in-time recovery (see pitr-store.ts).
  PITR_MIGRATION,
];

/** The schema version this build writes: the number of migrations. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Applies the migrations `db` has not had yet, each in its own transaction. */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
