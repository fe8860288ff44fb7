// The SQLite state store: runs and their timelines, the catalog, alerts and notes in one file.
import { mkdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { PitrLog } from '../../domain/pitr.js';
import type { Run, RunEvent, RunEventType, RunKind, RunStatus } from '../../domain/runs.js';
import type {
  ActiveRun,
  AlertRecord,
  ApprovalRecord,
  ArtifactLocation,
  ArtifactMeta,
  ArtifactRecord,
  CatalogArtifact,
  CompactionStep,
  EventsSummary,
  ImportedSet,
  NewArtifact,
  SetPurpose,
  SetRecord,
  StateStore,
} from '../../ports/state-store.js';
import { scrub } from '../../secrets.js';
import { importSet, reconcileLocations } from './catalog-import.js';
import { migrate } from './migrations.js';
import { markPitrLog, pitrBases, pitrLogs, savePitrLog } from './pitr-store.js';
import { importSnapshot, stateIsEmpty, writeSnapshot } from './snapshot.js';
import { type CompressedSnapshot, compressedSnapshotOf, compressImage } from './snapshot-offthread.js';

type Row = Record<string, unknown>;

/** Pages a large snapshot copies per step (1,000 pages of 4 KiB). */
const LARGE_COPY_PAGES = 1000;

/** The note recording the last run whose events compaction has looked at. */
const EVENTS_MARK = 'compact.events.seq';

/** `host:pid` of this process, recorded on every run it starts. */
const OWNER = `${hostname()}:${process.pid}`;

function ownerAlive(owner: string | null): boolean {
  if (!owner) return false;
  const [host, pid] = owner.split(':');
  if (host !== hostname()) return true; // another host's process: not ours to judge
  if (Number(pid) === process.pid) return false; // ourselves at start-up: nothing of ours is running yet
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
/** Whether a run's owner is alive from where this process stands: itself always is. */
const ownerLive = (owner: unknown) => owner === OWNER || ownerAlive(typeof owner === 'string' ? owner : null);

const date = (v: unknown) => (typeof v === 'string' ? new Date(v) : undefined);
const iso = (d: Date | undefined) => (d ? d.toISOString() : null);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const num = (v: unknown) => (typeof v === 'number' ? v : undefined);

/** Opens (and migrates) the SQLite state file; `:memory:` for tests. */
export function openSqliteStore(path: string): SqliteStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return new SqliteStore(db);
}

// Kept importable from here, where it used to live.
export { migrate };

export class SqliteStore implements StateStore {
  constructor(private readonly db: Database.Database) {}

  createRun(input: {
    kind: Run['kind'];
    requester: string;
    target: string;
    status: RunStatus;
    at: Date;
  }): Run {
    const tx = this.db.transaction(() => {
      const info = this.db
        .prepare(
          'INSERT INTO runs (id, kind, requester, target, status, created_at, owner) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          `new-${OWNER}-${Math.random()}`,
          input.kind,
          input.requester,
          input.target,
          input.status,
          input.at.toISOString(),
          OWNER,
        );
      const id = `run-${info.lastInsertRowid}`;
      this.db.prepare('UPDATE runs SET id = ? WHERE seq = ?').run(id, info.lastInsertRowid);
      return id;
    });
    return this.getRun(tx()) as Run;
  }

  updateRun(
    id: string,
    patch: Partial<Pick<Run, 'status' | 'startedAt' | 'endedAt' | 'error' | 'result'>>,
  ): Run {
    const cols: Record<string, unknown> = {};
    if (patch.status !== undefined) cols.status = patch.status;
    if (patch.startedAt !== undefined) cols.started_at = iso(patch.startedAt);
    if (patch.endedAt !== undefined) cols.ended_at = iso(patch.endedAt);
    if (patch.error !== undefined) cols.error = scrub(patch.error);
    if (patch.result !== undefined) cols.result = scrub(JSON.stringify(patch.result));
    this.update('runs', 'id', id, cols);
    return this.getRun(id) as Run;
  }

  getRun(id: string): Run | undefined {
    const row = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as Row | undefined;
    return row ? toRun(row) : undefined;
  }

  listRuns(limit: number, before?: string): Run[] {
    if (before === undefined)
      return (this.db.prepare('SELECT * FROM runs ORDER BY seq DESC LIMIT ?').all(limit) as Row[]).map(toRun);
    return (
      this.db
        .prepare(
          'SELECT * FROM runs WHERE seq < (SELECT seq FROM runs WHERE id = ?) ORDER BY seq DESC LIMIT ?',
        )
        .all(before, limit) as Row[]
    ).map(toRun);
  }

  appendEvent(
    runId: string,
    e: { at: Date; stage?: string; type: RunEventType; message: string; data?: Record<string, unknown> },
  ): void {
    this.db
      .prepare('INSERT INTO run_events (run_id, at, stage, type, message, data) VALUES (?, ?, ?, ?, ?, ?)')
      .run(
        runId,
        e.at.toISOString(),
        e.stage ?? null,
        e.type,
        scrub(e.message),
        e.data ? scrub(JSON.stringify(e.data)) : null,
      );
  }

  events(runId: string): RunEvent[] {
    return (
      this.db.prepare('SELECT * FROM run_events WHERE run_id = ? ORDER BY seq').all(runId) as Row[]
    ).map((r) => ({
      runId: r.run_id as string,
      at: new Date(r.at as string),
      stage: str(r.stage),
      type: r.type as RunEventType,
      message: r.message as string,
      data: typeof r.data === 'string' ? (JSON.parse(r.data) as Record<string, unknown>) : undefined,
    }));
  }

  interruptRunning(at: Date): Run[] {
    // Only runs whose owning process is gone: a CLI started next to the bot must not mark the
    // bot's live runs as interrupted.
    const rows = (
      this.db.prepare("SELECT id, owner FROM runs WHERE status = 'running'").all() as {
        id: string;
        owner: string | null;
      }[]
    ).filter((r) => !ownerAlive(r.owner));
    const tx = this.db.transaction(() => {
      for (const { id } of rows) {
        this.db
          .prepare(
            "UPDATE runs SET status = 'interrupted', ended_at = ?, error = COALESCE(error, ?) WHERE id = ?",
          )
          .run(at.toISOString(), 'the drbot process stopped while the run was in progress', id);
        this.appendEvent(id, {
          at,
          type: 'error',
          message: 'interrupted: the drbot process stopped while the run was in progress',
        });
        // A set that was being written by the run can never become complete now.
        this.db
          .prepare(
            "UPDATE sets SET status = 'failed', error = 'interrupted' WHERE run_id = ? AND status = 'writing'",
          )
          .run(id);
      }
    });
    tx();
    return rows.map(({ id }) => this.getRun(id) as Run);
  }

  liveRuns(): Run[] {
    const rows = this.db.prepare("SELECT * FROM runs WHERE status = 'running' ORDER BY seq").all() as Row[];
    // Runs of this process are live here (ownerAlive is for start-up, when none can be).
    return rows.filter((r) => r.owner === OWNER || ownerAlive(str(r.owner) ?? null)).map(toRun);
  }

  createSet(input: { id: string; runId: string; createdAt: Date; purpose?: SetPurpose }): void {
    this.db
      .prepare("INSERT INTO sets (id, run_id, created_at, status, purpose) VALUES (?, ?, ?, 'writing', ?)")
      .run(input.id, input.runId, input.createdAt.toISOString(), input.purpose ?? 'backup');
  }

  updateSet(
    id: string,
    patch: Partial<Pick<SetRecord, 'status' | 'completedAt' | 'error' | 'verifiedAt' | 'deepVerifiedAt'>>,
  ): void {
    const cols: Record<string, unknown> = {};
    if (patch.status !== undefined) cols.status = patch.status;
    if (patch.completedAt !== undefined) cols.completed_at = iso(patch.completedAt);
    if (patch.error !== undefined) cols.error = scrub(patch.error);
    if (patch.verifiedAt !== undefined) cols.verified_at = iso(patch.verifiedAt);
    if (patch.deepVerifiedAt !== undefined) cols.deep_verified_at = iso(patch.deepVerifiedAt);
    this.update('sets', 'id', id, cols);
  }

  getSet(id: string): SetRecord | undefined {
    const row = this.db.prepare('SELECT * FROM sets WHERE id = ?').get(id) as Row | undefined;
    return row ? this.toSet(row) : undefined;
  }

  listSets(
    filter: { status?: SetRecord['status'][]; purpose?: SetPurpose; limit?: number } = {},
  ): SetRecord[] {
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter.status?.length) {
      where.push(`status IN (${filter.status.map(() => '?').join(',')})`);
      values.push(...filter.status);
    }
    if (filter.purpose) {
      where.push('purpose = ?');
      values.push(filter.purpose);
    }
    const limit = filter.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(filter.limit))}` : '';
    const sql = `SELECT * FROM sets ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC${limit}`;
    return (this.db.prepare(sql).all(...values) as Row[]).map((r) => this.toSet(r));
  }

  newestSets(options: { deepVerified?: boolean } = {}): Map<string, SetRecord> {
    const newest = this.db.prepare(
      `SELECT a.set_id AS setId FROM artifacts a JOIN sets s ON s.id = a.set_id
        WHERE a.asset = ? AND a.status = 'complete'${options.deepVerified ? ' AND a.deep_verified_at IS NOT NULL' : ''}
          AND s.status = 'complete' AND s.purpose = 'backup'
        ORDER BY a.set_created_at DESC, a.set_id DESC LIMIT 1`,
    );
    const found: { asset: string; set: SetRecord }[] = [];
    const sets = new Map<string, SetRecord>();
    for (const asset of this.catalogAssets()) {
      const row = newest.get(asset) as { setId: string } | undefined;
      if (!row) continue;
      let set = sets.get(row.setId);
      if (!set) {
        set = this.getSet(row.setId) as SetRecord;
        sets.set(row.setId, set);
      }
      found.push({ asset, set });
    }
    // Newest set first, then by asset: the order a walk down the whole catalog would give.
    found.sort(
      (x, y) =>
        y.set.createdAt.getTime() - x.set.createdAt.getTime() ||
        y.set.id.localeCompare(x.set.id) ||
        x.asset.localeCompare(y.asset),
    );
    return new Map(found.map((f) => [f.asset, f.set]));
  }

  catalogAssets(): string[] {
    return (
      this.db.prepare('SELECT asset FROM catalog_assets ORDER BY asset').all() as { asset: string }[]
    ).map((r) => r.asset);
  }

  artifactsBefore(asset: string, before: Date, limit: number): CatalogArtifact[] {
    return (
      this.db
        .prepare(
          `SELECT a.id, a.set_id, a.set_created_at, a.deep_verified_at FROM artifacts a JOIN sets s ON s.id = a.set_id
            WHERE a.asset = ? AND a.status = 'complete' AND a.set_created_at < ?
              AND s.status = 'complete' AND s.purpose = 'backup'
            ORDER BY a.set_created_at, a.set_id LIMIT ?`,
        )
        .all(asset, before.toISOString(), limit) as Row[]
    ).map((r) => ({
      artifactId: r.id as number,
      setId: r.set_id as string,
      setTime: new Date(r.set_created_at as string),
      deepVerified: r.deep_verified_at !== null,
    }));
  }

  olderVerified(asset: string, before?: { time: Date; id: string }): { id: string; time: Date } | undefined {
    const where = before ? ' AND (a.set_created_at < ? OR (a.set_created_at = ? AND a.set_id < ?))' : '';
    const at = before?.time.toISOString();
    const row = this.db
      .prepare(
        `SELECT a.set_id, a.set_created_at FROM artifacts a JOIN sets s ON s.id = a.set_id
          WHERE a.asset = ? AND a.status = 'complete' AND a.deep_verified_at IS NOT NULL${where}
            AND s.status = 'complete' AND s.purpose = 'backup'
          ORDER BY a.set_created_at DESC, a.set_id DESC LIMIT 1`,
      )
      .get(asset, ...(before ? [at, at, before.id] : [])) as Row | undefined;
    return row ? { id: row.set_id as string, time: new Date(row.set_created_at as string) } : undefined;
  }

  newestArtifactSize(asset: string): number | undefined {
    const row = this.db
      .prepare(
        `SELECT a.size FROM artifacts a JOIN sets s ON s.id = a.set_id
          WHERE a.asset = ? AND a.status = 'complete' AND a.size IS NOT NULL AND s.status = 'complete'
          ORDER BY a.set_created_at DESC, a.set_id DESC LIMIT 1`,
      )
      .get(asset) as { size: number } | undefined;
    return row?.size;
  }

  addArtifact(a: NewArtifact): number {
    const info = this.db
      .prepare(
        "INSERT INTO artifacts (set_id, asset, kind, file, compression, started_at, status, meta) VALUES (?, ?, ?, ?, ?, ?, 'writing', ?)",
      )
      .run(
        a.setId,
        a.asset,
        a.kind,
        a.file,
        a.compression,
        a.startedAt.toISOString(),
        JSON.stringify(a.meta ?? {}),
      );
    return Number(info.lastInsertRowid);
  }

  updateArtifact(
    id: number,
    patch: Partial<
      Pick<
        ArtifactRecord,
        | 'size'
        | 'rawSize'
        | 'sha256'
        | 'engineVersion'
        | 'endedAt'
        | 'status'
        | 'prunedAt'
        | 'verifiedAt'
        | 'deepVerifiedAt'
        | 'verifyError'
      >
    >,
  ): void {
    const cols: Record<string, unknown> = {};
    if (patch.size !== undefined) cols.size = patch.size;
    if (patch.rawSize !== undefined) cols.raw_size = patch.rawSize;
    if (patch.sha256 !== undefined) cols.sha256 = patch.sha256;
    if (patch.engineVersion !== undefined) cols.engine_version = patch.engineVersion;
    if (patch.endedAt !== undefined) cols.ended_at = iso(patch.endedAt);
    if (patch.status !== undefined) cols.status = patch.status;
    if (patch.prunedAt !== undefined) cols.pruned_at = iso(patch.prunedAt);
    if (patch.verifiedAt !== undefined) cols.verified_at = iso(patch.verifiedAt);
    if (patch.deepVerifiedAt !== undefined) cols.deep_verified_at = iso(patch.deepVerifiedAt);
    if (patch.verifyError !== undefined)
      cols.verify_error = patch.verifyError === '' ? null : scrub(patch.verifyError);
    this.update('artifacts', 'id', id, cols);
  }

  setLocation(artifactId: number, l: ArtifactLocation): void {
    this.db
      .prepare(
        `INSERT INTO locations (artifact_id, target, key, status, confirmed_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (artifact_id, target) DO UPDATE SET key = excluded.key, status = excluded.status, confirmed_at = excluded.confirmed_at`,
      )
      .run(artifactId, l.target, l.key, l.status, iso(l.confirmedAt));
  }

  requestCancel(runId: string, by: string, at: Date): void {
    this.db
      .prepare('UPDATE runs SET cancel_requested_at = ?, cancel_requested_by = ? WHERE id = ?')
      .run(at.toISOString(), by, runId);
  }

  cancelRequested(runId: string): { by: string; at: Date } | undefined {
    const row = this.db
      .prepare('SELECT cancel_requested_at AS at, cancel_requested_by AS by FROM runs WHERE id = ?')
      .get(runId) as { at: string | null; by: string | null } | undefined;
    return row?.at ? { by: row.by ?? 'unknown', at: new Date(row.at) } : undefined;
  }

  activeRuns(): ActiveRun[] {
    const rows = this.db
      .prepare("SELECT * FROM runs WHERE status IN ('running', 'pending-approval') ORDER BY seq")
      .all() as Row[];
    return rows.map((r) => ({
      run: toRun(r),
      ownerLive: ownerLive(r.owner),
      approval: this.approval(r.id as string),
    }));
  }

  lastRun(filter: {
    kind?: RunKind;
    asset?: string;
    status?: RunStatus[];
    ended?: boolean;
  }): Run | undefined {
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter.asset !== undefined) {
      // The runs an asset appears in, with their kind and status (kept by triggers from each
      // run's result), newest first: one index range, however many runs there are.
      where.push('asset = ?');
      values.push(filter.asset);
      if (filter.kind) {
        where.push('kind = ?');
        values.push(filter.kind);
      }
      if (filter.status?.length) {
        where.push(`status IN (${filter.status.map(() => '?').join(',')})`);
        values.push(...filter.status);
      }
      const seqs = this.db
        .prepare(`SELECT run_seq FROM run_assets WHERE ${where.join(' AND ')} ORDER BY run_seq DESC`)
        .iterate(...values) as IterableIterator<{ run_seq: number }>;
      for (const { run_seq } of seqs) {
        const row = this.db.prepare('SELECT * FROM runs WHERE seq = ?').get(run_seq) as Row | undefined;
        if (row && (!filter.ended || (row.started_at !== null && row.ended_at !== null))) return toRun(row);
      }
      return undefined;
    }
    if (filter.kind) {
      where.push('kind = ?');
      values.push(filter.kind);
    }
    if (filter.status?.length) {
      where.push(`status IN (${filter.status.map(() => '?').join(',')})`);
      values.push(...filter.status);
    }
    if (filter.ended) where.push('started_at IS NOT NULL AND ended_at IS NOT NULL');
    const row = this.db
      .prepare(
        `SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT 1`,
      )
      .get(...values) as Row | undefined;
    return row ? toRun(row) : undefined;
  }

  version(): string {
    // data_version moves on commits of other connections; total_changes() on this one's.
    const other = this.db.pragma('data_version', { simple: true }) as number;
    const own = (this.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    return `${other}:${own}`;
  }

  runCounts(): Array<{ kind: RunKind; status: RunStatus; n: number }> {
    return this.db
      .prepare('SELECT kind, status, n FROM run_counts WHERE n > 0 ORDER BY kind, status')
      .all() as Array<{ kind: RunKind; status: RunStatus; n: number }>;
  }

  pastDurations(kind: RunKind, scope: string, limit: number): number[] {
    const prefix = `${scope} `;
    const rows = this.db
      .prepare(
        `SELECT started_at, ended_at FROM runs
          WHERE kind = ? AND status = 'succeeded' AND started_at IS NOT NULL AND ended_at IS NOT NULL
            AND (target = ? OR substr(target, 1, ?) = ?)
          ORDER BY seq DESC LIMIT ?`,
      )
      .all(kind, scope, prefix.length, prefix, limit) as { started_at: string; ended_at: string }[];
    return rows.map((r) => new Date(r.ended_at).getTime() - new Date(r.started_at).getTime());
  }

  exclusive<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  claimRun(runId: string): boolean {
    return this.exclusive(() => {
      const row = this.db.prepare('SELECT status, owner FROM runs WHERE id = ?').get(runId) as
        | Row
        | undefined;
      if (row?.status !== 'pending-approval' || ownerLive(row.owner)) return false;
      this.db.prepare('UPDATE runs SET owner = ? WHERE id = ?').run(OWNER, runId);
      return true;
    });
  }

  releaseRun(runId: string): void {
    this.db.prepare('UPDATE runs SET owner = NULL WHERE id = ? AND owner = ?').run(runId, OWNER);
  }

  settlePending(
    runId: string,
    outcome: { status: RunStatus; at: Date; reason: string; by?: string | undefined },
  ): Run | undefined {
    return this.exclusive(() => {
      const row = this.db.prepare('SELECT status, owner FROM runs WHERE id = ?').get(runId) as
        | Row
        | undefined;
      if (row?.status !== 'pending-approval' || ownerLive(row.owner)) return undefined;
      this.db
        .prepare('UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ?')
        .run(outcome.status, outcome.at.toISOString(), scrub(outcome.reason), runId);
      this.appendEvent(runId, {
        at: outcome.at,
        stage: 'assemble',
        type: outcome.status === 'interrupted' ? 'error' : 'warn',
        message: `${outcome.status}${outcome.by ? ` by ${outcome.by}` : ''}: ${outcome.reason}`,
      });
      return this.getRun(runId);
    });
  }

  saveApproval(a: ApprovalRecord): void {
    this.db
      .prepare(
        `INSERT INTO approvals (run_id, requester, channel, message_ts, fingerprint, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id) DO UPDATE SET requester = excluded.requester, channel = excluded.channel,
           message_ts = excluded.message_ts, fingerprint = excluded.fingerprint,
           created_at = excluded.created_at, expires_at = excluded.expires_at`,
      )
      .run(
        a.runId,
        a.requester,
        a.channel,
        a.messageTs ?? null,
        a.fingerprint,
        a.createdAt.toISOString(),
        a.expiresAt.toISOString(),
      );
  }

  approval(runId: string): ApprovalRecord | undefined {
    const row = this.db.prepare('SELECT * FROM approvals WHERE run_id = ?').get(runId) as Row | undefined;
    return row ? toApproval(row) : undefined;
  }

  approvals(): ApprovalRecord[] {
    return (this.db.prepare('SELECT * FROM approvals ORDER BY created_at, run_id').all() as Row[]).map(
      toApproval,
    );
  }

  closeApproval(runId: string): void {
    this.db.prepare('DELETE FROM approvals WHERE run_id = ?').run(runId);
  }

  alerts(): AlertRecord[] {
    return (this.db.prepare('SELECT * FROM alerts ORDER BY asset, kind').all() as Row[]).map((r) => ({
      asset: r.asset as string,
      kind: r.kind as AlertRecord['kind'],
      open: r.open === 1,
      since: new Date(r.since as string),
      detail: r.detail as string,
      notifiedAt: date(r.notified_at),
      closedAt: date(r.closed_at),
    }));
  }

  saveAlert(a: AlertRecord): void {
    this.db
      .prepare(
        `INSERT INTO alerts (asset, kind, open, since, detail, notified_at, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (asset, kind) DO UPDATE SET open = excluded.open, since = excluded.since, detail = excluded.detail,
           notified_at = excluded.notified_at, closed_at = excluded.closed_at`,
      )
      .run(
        a.asset,
        a.kind,
        a.open ? 1 : 0,
        a.since.toISOString(),
        scrub(a.detail),
        iso(a.notifiedAt),
        iso(a.closedAt),
      );
  }

  getNote(key: string): string | undefined {
    return (
      this.db.prepare('SELECT value FROM notes WHERE key = ?').get(key) as { value: string } | undefined
    )?.value;
  }

  setNote(key: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO notes (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  compactBatch(options: { at: Date; prunedBefore: Date; eventsBefore: Date; limit: number }): CompactionStep {
    const step: CompactionStep = { artifacts: 0, sets: 0, runs: 0, events: 0, more: false };
    this.db.transaction(() => {
      // Artifacts pruned long enough ago: their copies and rows go; a set left with none and
      // marked pruned goes with them.
      const pruned = this.db
        .prepare(
          "SELECT id, set_id FROM artifacts WHERE status = 'pruned' AND pruned_at < ? ORDER BY pruned_at LIMIT ?",
        )
        .all(options.prunedBefore.toISOString(), options.limit) as { id: number; set_id: string }[];
      const dropLocations = this.db.prepare('DELETE FROM locations WHERE artifact_id = ?');
      const dropArtifact = this.db.prepare('DELETE FROM artifacts WHERE id = ?');
      for (const a of pruned) {
        dropLocations.run(a.id);
        dropArtifact.run(a.id);
      }
      const dropSet = this.db.prepare(
        "DELETE FROM sets WHERE id = ? AND status = 'pruned' AND NOT EXISTS (SELECT 1 FROM artifacts WHERE set_id = ?)",
      );
      for (const id of new Set(pruned.map((a) => a.set_id))) step.sets += dropSet.run(id, id).changes;
      step.artifacts = pruned.length;

      // Old runs' fine-grained events: the stage boundaries, warnings and errors stay; the
      // info lines are counted per stage into the run's summary. Runs are taken in order from
      // where the last step stopped, up to the first that is not finished long enough.
      const mark = Number(this.getNote(EVENTS_MARK) ?? Number.MIN_SAFE_INTEGER);
      const runs = this.db
        .prepare('SELECT seq, id, status, ended_at FROM runs WHERE seq > ? ORDER BY seq LIMIT ?')
        .all(mark, options.limit) as { seq: number; id: string; status: string; ended_at: string | null }[];
      let last = mark;
      const cutoff = options.eventsBefore.toISOString();
      const count = this.db.prepare(
        "SELECT COALESCE(stage, '') AS stage, COUNT(*) AS n, MIN(at) AS first, MAX(at) AS last FROM run_events WHERE run_id = ? AND type = 'info' GROUP BY stage",
      );
      const dropInfo = this.db.prepare("DELETE FROM run_events WHERE run_id = ? AND type = 'info'");
      const keep = this.db.prepare('UPDATE runs SET events_summary = ? WHERE seq = ?');
      for (const r of runs) {
        const finished = r.status !== 'running' && r.status !== 'pending-approval' && r.ended_at !== null;
        if (!finished || (r.ended_at as string) >= cutoff) break;
        const stages = count.all(r.id) as { stage: string; n: number; first: string; last: string }[];
        if (stages.length) {
          const summary: EventsSummary = {
            at: options.at.toISOString(),
            info: Object.fromEntries(stages.map((x) => [x.stage, { n: x.n, first: x.first, last: x.last }])),
          };
          keep.run(JSON.stringify(summary), r.seq);
          step.events += dropInfo.run(r.id).changes;
          step.runs++;
        }
        last = r.seq;
      }
      if (last !== mark) this.setNote(EVENTS_MARK, String(last));
      step.more =
        pruned.length === options.limit || (runs.length === options.limit && last === runs.at(-1)?.seq);
    })();
    return step;
  }

  eventsSummary(runId: string): EventsSummary | undefined {
    const row = this.db.prepare('SELECT events_summary FROM runs WHERE id = ?').get(runId) as
      | { events_summary: string | null }
      | undefined;
    return row?.events_summary ? (JSON.parse(row.events_summary) as EventsSummary) : undefined;
  }

  snapshotTo(file: string): Promise<void> {
    return writeSnapshot(this.db, file);
  }

  snapshot(): Buffer {
    const image = this.db.serialize();
    // Bytes 18-19 of the header say WAL mode (2); a copy that stands alone is a rollback-journal
    // file (1), or opening it would look for a -wal file that is not there.
    if (image[18] === 2) image[18] = 1;
    if (image[19] === 2) image[19] = 1;
    return image;
  }

  sizeBytes(): number {
    if (this.db.memory) return 0;
    const size = (suffix: string) =>
      statSync(`${this.db.name}${suffix}`, { throwIfNoEntry: false })?.size ?? 0;
    return size('') + size('-wal');
  }

  async snapshotFile(): Promise<{ file: string; remove(): Promise<void> }> {
    if (this.db.memory) throw new Error('a state in memory has no file to copy beside');
    const file = `${this.db.name}.upload-${process.pid}-${Date.now()}`;
    // Large steps (4 MiB each between turns of the event loop): a state of gigabytes copies in
    // minutes rather than hours, each step still short.
    await writeSnapshot(this.db, file, LARGE_COPY_PAGES);
    // Unlinking gigabytes takes a while: in libuv's pool, not on the event loop.
    return { file, remove: () => rm(file, { force: true }) };
  }

  snapshotCompressed(): Promise<CompressedSnapshot> {
    // A file-backed state is read by a worker thread with its own connection; one in memory
    // (tests) has nothing another connection could open.
    return this.db.memory ? compressImage(this.snapshot()) : compressedSnapshotOf(this.db.name);
  }

  isEmpty(): boolean {
    return stateIsEmpty(this.db);
  }

  importSnapshot(
    file: string,
    at: Date,
    finished?: Record<string, RunStatus>,
  ): { runs: number; sets: number } {
    return importSnapshot(this.db, this, file, at, finished);
  }

  importSet(input: ImportedSet): boolean {
    return importSet(this.db, this, input);
  }

  reconcileLocations(target: string, present: (key: string) => boolean, at: Date): number {
    return reconcileLocations(this.db, target, present, at);
  }

  close(): void {
    this.db.close();
  }

  // --- point-in-time recovery: the catalog of archived logs (pitr-store.ts) ---
  savePitrLog(log: PitrLog): void {
    savePitrLog(this.db, log);
  }

  pitrLogs(asset: string): PitrLog[] {
    return pitrLogs(this.db, asset);
  }

  pitrBases(asset: string): PitrLog[] {
    return pitrBases(this.db, asset);
  }

  markPitrLog(asset: string, key: string, status: PitrLog['status'], error?: string): void {
    markPitrLog(this.db, asset, key, status, error);
  }

  /** `UPDATE table SET col = ?, … WHERE key = ?` for the columns given (names are ours, not input). */
  private update(table: string, key: string, value: unknown, cols: Record<string, unknown>): void {
    const names = Object.keys(cols);
    if (!names.length) return;
    this.db
      .prepare(`UPDATE ${table} SET ${names.map((k) => `${k} = ?`).join(', ')} WHERE ${key} = ?`)
      .run(...Object.values(cols), value);
  }

  private toSet(row: Row): SetRecord {
    const id = row.id as string;
    const artifacts = (
      this.db.prepare('SELECT * FROM artifacts WHERE set_id = ? ORDER BY asset').all(id) as Row[]
    ).map((a) => {
      const locations = (
        this.db.prepare('SELECT * FROM locations WHERE artifact_id = ? ORDER BY target').all(a.id) as Row[]
      ).map(
        (l): ArtifactLocation => ({
          target: l.target as string,
          key: l.key as string,
          status: l.status as ArtifactLocation['status'],
          confirmedAt: date(l.confirmed_at),
        }),
      );
      return {
        id: a.id as number,
        setId: id,
        asset: a.asset as string,
        kind: a.kind as ArtifactRecord['kind'],
        file: a.file as string,
        size: num(a.size),
        rawSize: num(a.raw_size),
        sha256: str(a.sha256),
        compression: a.compression as string,
        engineVersion: str(a.engine_version),
        startedAt: new Date(a.started_at as string),
        endedAt: date(a.ended_at),
        status: a.status as ArtifactRecord['status'],
        prunedAt: date(a.pruned_at),
        meta: JSON.parse((a.meta as string) || '{}') as ArtifactMeta,
        verifiedAt: date(a.verified_at),
        deepVerifiedAt: date(a.deep_verified_at),
        verifyError: str(a.verify_error),
        locations,
      } satisfies ArtifactRecord;
    });
    return {
      id,
      runId: row.run_id as string,
      purpose: row.purpose as SetPurpose,
      createdAt: new Date(row.created_at as string),
      completedAt: date(row.completed_at),
      status: row.status as SetRecord['status'],
      error: str(row.error),
      verifiedAt: date(row.verified_at),
      deepVerifiedAt: date(row.deep_verified_at),
      artifacts,
    };
  }
}

function toApproval(row: Row): ApprovalRecord {
  return {
    runId: row.run_id as string,
    requester: row.requester as string,
    channel: row.channel as string,
    messageTs: str(row.message_ts),
    fingerprint: row.fingerprint as string,
    createdAt: new Date(row.created_at as string),
    expiresAt: new Date(row.expires_at as string),
  };
}

function toRun(row: Row): Run {
  return {
    id: row.id as string,
    kind: row.kind as Run['kind'],
    requester: row.requester as string,
    target: row.target as string,
    status: row.status as RunStatus,
    createdAt: new Date(row.created_at as string),
    startedAt: date(row.started_at),
    endedAt: date(row.ended_at),
    error: str(row.error),
    result: JSON.parse((row.result as string) || '{}'),
  } as Run;
}
