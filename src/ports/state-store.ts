// The state store port: runs with their timelines, the catalog of sets, artifacts and their copies.
import type { ArtifactKind } from '../domain/assets.js';
import type { PitrLog } from '../domain/pitr.js';
import type {
  LocationStatus,
  Run,
  RunEvent,
  RunEventType,
  RunKind,
  RunStatus,
  SetStatus,
} from '../domain/runs.js';

export interface ArtifactLocation {
  target: string;
  key: string;
  status: LocationStatus;
  confirmedAt: Date | undefined;
}

export interface ArtifactRecord {
  id: number;
  setId: string;
  asset: string;
  kind: ArtifactKind;
  file: string;
  size: number | undefined;
  rawSize: number | undefined;
  sha256: string | undefined;
  compression: string;
  engineVersion: string | undefined;
  startedAt: Date;
  endedAt: Date | undefined;
  status: 'writing' | 'complete' | 'failed' | 'pruned';
  prunedAt: Date | undefined;
  /** What a restore needs to recreate the asset: volume labels, database container and engine. */
  meta: ArtifactMeta;
  /** Last time its checksum was confirmed on every target by a verify. */
  verifiedAt: Date | undefined;
  /** Last time a deep verify restored it into scratch and it passed the sanity checks. */
  deepVerifiedAt: Date | undefined;
  /** Why the last verify of it failed, if it did. */
  verifyError: string | undefined;
  locations: ArtifactLocation[];
}

export interface ArtifactMeta {
  labels?: Record<string, string>;
  container?: string;
  engine?: string;
  image?: string;
  user?: string;
  /** The name (never the value) of the container env variable holding the password. */
  passwordEnv?: string;
  /** A volume's: the database whose data directory it was (`restore full` loads that dump instead). */
  dataOf?: string;
}

/** `backup`: a restore point; `safety`: the state a restore replaced, kept for undo. */
export type SetPurpose = 'backup' | 'safety';

export interface SetRecord {
  id: string;
  runId: string;
  purpose: SetPurpose;
  createdAt: Date;
  completedAt: Date | undefined;
  status: SetStatus;
  error: string | undefined;
  verifiedAt: Date | undefined;
  deepVerifiedAt: Date | undefined;
  artifacts: ArtifactRecord[];
}

export interface NewArtifact {
  setId: string;
  asset: string;
  kind: ArtifactKind;
  file: string;
  compression: string;
  startedAt: Date;
  meta?: ArtifactMeta;
}

/** Durable state: runs with their timelines, and the catalog of sets and artifacts. */
export interface StateStore {
  createRun(input: { kind: RunKind; requester: string; target: string; status: RunStatus; at: Date }): Run;
  updateRun(
    id: string,
    patch: Partial<Pick<Run, 'status' | 'startedAt' | 'endedAt' | 'error' | 'result'>>,
  ): Run;
  getRun(id: string): Run | undefined;
  /** The newest `limit` runs, newest first; with `before` (a run id), those older than it. */
  listRuns(limit: number, before?: string): Run[];
  appendEvent(
    runId: string,
    event: { at: Date; stage?: string; type: RunEventType; message: string; data?: Record<string, unknown> },
  ): void;
  events(runId: string): RunEvent[];
  /** Marks every `running` run `interrupted` (process died); returns them. */
  interruptRunning(at: Date): Run[];
  /**
   * Runs `running` or `pending-approval`, oldest first, each with whether the process that owns
   * it is alive (this one, another on this host that answers, or one on another host: not ours
   * to judge) and its open approval card, if it has one. What the asset lock weighs.
   */
  activeRuns(): ActiveRun[];
  /**
   * The newest run matching all that is given (an asset: one the run records working on;
   * `ended`: one that started and ended).
   */
  lastRun(filter: { kind?: RunKind; asset?: string; status?: RunStatus[]; ended?: boolean }): Run | undefined;
  /**
   * Changes whenever anything is written to the state, by this process or another: equal
   * values mean nothing changed in between (what a shared read may rely on).
   */
  version(): string;
  /** How many runs there are of each kind and status (kept as runs come and change). */
  runCounts(): Array<{ kind: RunKind; status: RunStatus; n: number }>;
  /**
   * How long (ms) the newest `limit` succeeded runs of `kind` whose target is `scope` (or starts
   * with `scope` and a space, as `db-only --from set-…`) took, newest first.
   */
  pastDurations(kind: RunKind, scope: string, limit: number): number[];
  /**
   * Runs `fn` inside one write transaction taken before it reads anything (SQLite's BEGIN
   * IMMEDIATE): no other process or connection writes in between, so a check and the write it
   * allows cannot be split by another process's. `fn` is synchronous; what it throws rolls back.
   */
  exclusive<T>(fn: () => T): T;
  /**
   * Makes this process the owner of a `pending-approval` run no live process owns (its owner
   * died, or handed it over with `releaseRun`). False, changing nothing, when it is not
   * pending or a live process owns it.
   */
  claimRun(runId: string): boolean;
  /** Gives up this process's ownership of a run left waiting (for approval) when it stops. */
  releaseRun(runId: string): void;
  /**
   * Ends a `pending-approval` run no live process owns with `status` (the approval expired,
   * was rejected or withdrawn, or can no longer be given), recording `reason` on its timeline.
   * Undefined, changing nothing, when it is not pending or a live process owns it.
   */
  settlePending(
    runId: string,
    outcome: { status: RunStatus; at: Date; reason: string; by?: string | undefined },
  ): Run | undefined;

  /** Records an approval card (a new one, or the same with its message ts once posted). */
  saveApproval(approval: ApprovalRecord): void;
  approval(runId: string): ApprovalRecord | undefined;
  /** Every approval card still recorded as open, oldest first. */
  approvals(): ApprovalRecord[];
  /** The card is no longer open (decided, and shown as decided). */
  closeApproval(runId: string): void;
  /**
   * Runs `running` in a process that is still alive: this one, another on this host that
   * answers, or one on another host (not ours to judge). What a clean-up must leave alone.
   */
  liveRuns(): Run[];

  createSet(input: { id: string; runId: string; createdAt: Date; purpose?: SetPurpose }): void;
  updateSet(
    id: string,
    patch: Partial<Pick<SetRecord, 'status' | 'completedAt' | 'error' | 'verifiedAt' | 'deepVerifiedAt'>>,
  ): void;
  getSet(id: string): SetRecord | undefined;
  /** Sets newest first, optionally of some statuses / purposes only, at most `limit`. */
  listSets(filter?: { status?: SetStatus[]; purpose?: SetPurpose; limit?: number }): SetRecord[];
  /**
   * For each asset the catalog has ever held, the newest complete backup set (never a safety
   * snapshot) with a complete artifact of it, or with a deep-verified one. Newest set first.
   * Reads one index entry per asset, whatever the number of sets.
   */
  newestSets(options?: { deepVerified?: boolean }): Map<string, SetRecord>;
  /** Every asset the catalog has ever held an artifact of, by name. */
  catalogAssets(): string[];
  /**
   * The complete artifacts of `asset` in complete backup sets older than `before`, oldest
   * first, at most `limit`: what retention weighs.
   */
  artifactsBefore(asset: string, before: Date, limit: number): CatalogArtifact[];
  /**
   * The newest deep-verified complete artifact of `asset` in a complete backup set strictly
   * older than `before` (by set time, then set id), or the newest of all: what keep rules walk.
   */
  olderVerified(asset: string, before?: { time: Date; id: string }): { id: string; time: Date } | undefined;
  /** The size of the newest complete artifact of `asset` that has one. */
  newestArtifactSize(asset: string): number | undefined;

  addArtifact(input: NewArtifact): number;
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
  ): void;
  setLocation(artifactId: number, location: ArtifactLocation): void;

  /** Asks a run to stop at its next safe point. */
  requestCancel(runId: string, by: string, at: Date): void;
  cancelRequested(runId: string): { by: string; at: Date } | undefined;

  /** The RPO monitor's alert state, one row per asset and kind. */
  alerts(): AlertRecord[];
  saveAlert(alert: AlertRecord): void;

  /** Small named values that must survive restarts (last digest, last scheduled slot …). */
  getNote(key: string): string | undefined;
  setNote(key: string, value: string): void;

  /**
   * One bounded step of catalog upkeep, in one transaction: artifacts pruned before
   * `prunedBefore` lose their rows and copies' rows (a pruned set left empty goes too), and
   * runs finished before `eventsBefore` keep only their stage boundaries, warnings and errors,
   * their info events counted into a summary. At most `limit` of each; `more` when there is
   * more to do.
   */
  compactBatch(options: { at: Date; prunedBefore: Date; eventsBefore: Date; limit: number }): CompactionStep;
  /** What compaction folded of a run's events, if it did. */
  eventsSummary(runId: string): EventsSummary | undefined;

  /**
   * Writes a consistent copy of the whole state to `file` (SQLite's online backup, never a copy
   * of the live file), as one self-contained file. Writes made meanwhile either make it in whole
   * or not at all. `file` appears only once complete; an existing one is replaced.
   */
  snapshotTo(file: string): Promise<void>;

  /**
   * The same consistent snapshot as one self-contained database image in memory, for uploading
   * without a temporary file (a backup uses no temp disk).
   */
  snapshot(): Buffer;

  /**
   * The same snapshot gzipped, with its sha256, taken and compressed off the event loop (a
   * worker thread with its own read connection): what each backup uploads.
   */
  snapshotCompressed(): Promise<{ body: Buffer; sha256: string }>;

  /** The state file's size on disk (with its WAL); 0 for a state in memory. */
  sizeBytes(): number;

  /**
   * The same snapshot as a file beside the state (SQLite's online backup, in steps between
   * which the event loop runs), for states too large to hold in memory; `remove` deletes it.
   */
  snapshotFile(): Promise<{ file: string; remove(): Promise<void> }>;

  /** True when the store holds no runs and no sets: a new host, or a lost state file. */
  isEmpty(): boolean;

  /**
   * Fills an empty store (else throws) with every row of a state snapshot, in one transaction;
   * a snapshot of an older schema is migrated first (on a copy), a newer one is refused. Runs
   * that were `running` or `pending-approval` when it was taken become `interrupted` at `at`,
   * and their unfinished sets `failed`, except those named in `finished`, which get the status
   * given there (the backup run that took the snapshot is known to have finished). New runs are
   * numbered after the imported ones. Returns how many runs and sets were imported.
   */
  importSnapshot(
    file: string,
    at: Date,
    finished?: Record<string, RunStatus>,
  ): { runs: number; sets: number };

  /**
   * Records a set known only from its manifest as `complete` with its artifacts and where they
   * are, in one transaction; its checksums were confirmed when it was written, so it counts as
   * verified at `completedAt` (not deep-verified). A run id the store does not know gets a
   * placeholder run (`backup` by `catalog-rebuild`, `succeeded`) so the set keeps its run;
   * new runs are then numbered after it. Returns false, changing nothing, if the set exists.
   */
  importSet(input: ImportedSet): boolean;

  /**
   * Brings the copies recorded on `target` in line with what it holds: a `confirmed` or
   * `missing` copy whose key is `present` becomes `confirmed` (keeping its confirmation time,
   * else `at`), one that is absent becomes `missing`. Copies `writing`, `failed` or `deleted`
   * are left alone: presence proves no checksum, and a deletion was meant. Returns how many
   * copies changed status.
   */
  reconcileLocations(target: string, present: (key: string) => boolean, at: Date): number;

  close(): void;

  // --- point-in-time recovery: the catalog of archived logs (see domain/pitr.ts) ---
  /** Records (or replaces) an archived log. */
  savePitrLog(log: PitrLog): void;
  /** An asset's archived logs that are not pruned, oldest first. */
  pitrLogs(asset: string): PitrLog[];
  /**
   * An asset's PostgreSQL base backups (kept as records under `pitr/<asset>/base/`) that are
   * not pruned, oldest first; saved and marked like logs.
   */
  pitrBases(asset: string): PitrLog[];
  /** Marks a log `failed` (a copy missing or different: a gap in the chain) or `pruned`. */
  markPitrLog(asset: string, key: string, status: PitrLog['status'], error?: string): void;
}

/**
 * The approval card of a destructive run waiting for a second person (DESIGN §5), kept so that
 * the card can still be acted on after the process that posted it is gone.
 */
export interface ApprovalRecord {
  runId: string;
  requester: string;
  channel: string;
  /** The card's message; undefined until it is posted. */
  messageTs: string | undefined;
  /** The plan the card shows: an approval binds to it. */
  fingerprint: string;
  createdAt: Date;
  expiresAt: Date;
}

/** A run in progress or waiting, as the asset lock sees it. */
export interface ActiveRun {
  run: Run;
  /** The process that owns it is alive (or not ours to judge); false once it died or let go. */
  ownerLive: boolean;
  approval: ApprovalRecord | undefined;
}

/** An artifact as retention sees it: its set, its set's time, and whether deep verify passed it. */
export interface CatalogArtifact {
  artifactId: number;
  setId: string;
  setTime: Date;
  deepVerified: boolean;
}

/** What one compaction step removed. */
export interface CompactionStep {
  artifacts: number;
  sets: number;
  runs: number;
  events: number;
  more: boolean;
}

/** A run's info events folded by compaction: per stage ('' = none), how many, first and last. */
export interface EventsSummary {
  at: string;
  info: Record<string, { n: number; first: string; last: string }>;
}

/** A set found on a target with no record in the store, as its manifest describes it. */
export interface ImportedSet {
  id: string;
  runId: string;
  purpose: SetPurpose;
  createdAt: Date;
  completedAt: Date;
  artifacts: ImportedArtifact[];
}

export interface ImportedArtifact {
  asset: string;
  kind: ArtifactKind;
  file: string;
  size: number;
  rawSize: number | undefined;
  sha256: string;
  compression: string;
  engineVersion: string | undefined;
  startedAt: Date;
  endedAt: Date | undefined;
  meta: ArtifactMeta;
  locations: ArtifactLocation[];
}

export interface AlertRecord {
  asset: string;
  kind: 'rpo' | 'schedule';
  open: boolean;
  since: Date;
  detail: string;
  notifiedAt: Date | undefined;
  closedAt: Date | undefined;
}
