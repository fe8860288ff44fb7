// The engine's facade: every front end, the scheduler and the metrics go through it.
import type { Config } from '../config.js';
import { type DatabaseAsset, DEFAULT_DB_USER, DEFAULT_PASSWORD_ENV } from '../domain/assets.js';
import type { Inventory } from '../domain/inventory.js';
import type { PitrLog } from '../domain/pitr.js';
import type { Run, RunEvent, RunKind, RunStatus } from '../domain/runs.js';
import { ErrorCode, userError } from '../errors.js';
import type { Notice } from '../ports/notifier.js';
import type { AlertRecord, ApprovalRecord, EventsSummary, SetRecord } from '../ports/state-store.js';
import { type BackupOutcome, type BackupRequest, runBackup } from './backup/backup.js';
import { newestPerAsset } from './catalog/catalog.js';
import { type CompactionReport, compactCatalog } from './catalog/compact.js';
import { loadInventory } from './catalog/inventory.js';
import { planRetention, type RetentionPlan } from './catalog/prune.js';
import { type RebuildReport, rebuildCatalog } from './catalog/rebuild.js';
import type { EngineDeps } from './deps.js';
import { type ArchivePass, archivePass, type PitrDatabase } from './pitr/archiver.js';
import { rebuildLogCatalog } from './pitr/log-rebuild.js';
import {
  type PitrState,
  pitrPolicyLines,
  pitrState,
  prerequisiteProblem,
  recoverablePoint,
} from './pitr/window.js';

import { buildPolicy, type PolicyRow } from './report/policy.js';
import { SharedRead, sharedListings } from './report/shared-reads.js';
import { buildStatus, type StatusReport } from './report/status.js';
import {
  type RestoreOutcome,
  type RestoreRequest,
  resumeRestore,
  runRestore,
  runUndo,
} from './restore/restore.js';
import type { ApprovalDecision, ApprovalGate } from './runs/approval.js';
import { type DebrisReport, removeDebris } from './runs/cleanup.js';
import { settleOrphan, settleOrphanedApprovals } from './runs/pending-approvals.js';
import type { RunObserver } from './runs/run-context.js';
import { RunTracker, type ShutdownReport } from './runs/shutdown.js';
import {
  type AppliedLifecycle,
  applyStorage,
  checkImmutability,
  storageLines,
  storagePolicies,
} from './storage/storage.js';
import { runRecoveryTest, runVerify, type VerifyOutcome } from './verify/verify.js';

/** The one entry point front ends use: every `/dr` command goes through here. */
export class Engine {
  constructor(private readonly deps: EngineDeps) {
    const reportDeps: EngineDeps = { ...deps, runtime: sharedListings(deps.runtime) };
    this.reportDeps = reportDeps;
    const version = () => deps.store.version();
    this.statusRead = new SharedRead(() => buildStatus(reportDeps), version);
    this.policyRead = new SharedRead(() => buildPolicy(reportDeps), version);
  }

  private readonly reportDeps: EngineDeps;
  private readonly statusRead: SharedRead<StatusReport>;
  private readonly policyRead: SharedRead<PolicyRow[]>;

  /** The runs this process has in progress; refuses new ones once a stop began. */
  private readonly tracker = new RunTracker();

  /** The validated configuration the engine runs with. */
  get config(): Config {
    return this.deps.config;
  }

  /** The engine's clock (the front ends and the scheduler take their time from it). */
  now(): Date {
    return this.deps.clock.now();
  }

  /** Fails with the cause when the container engine does not answer (`/healthz`). */
  ping(): Promise<void> {
    return this.deps.runtime.ping();
  }

  /** What is protected now: assets, their policies, and what is invalid. */
  inventory(): Promise<Inventory> {
    return loadInventory(this.reportDeps);
  }

  /** Per asset, its newest complete backup set (or newest deep-verified one). */
  newestSetPerAsset(options: { deepVerified?: boolean } = {}): Map<string, SetRecord> {
    return newestPerAsset(this.deps.store, options);
  }

  /** One set of the catalog, by id. */
  getSet(id: string): SetRecord | undefined {
    return this.deps.store.getSet(id);
  }

  /** Who asked a run to stop, if anyone did. */
  cancelRequested(runId: string): { by: string; at: Date } | undefined {
    return this.deps.store.cancelRequested(runId);
  }

  /** The RPO monitor's alert state. */
  alerts(): AlertRecord[] {
    return this.deps.store.alerts();
  }

  saveAlert(alert: AlertRecord): void {
    this.deps.store.saveAlert(alert);
  }

  /** Small named values kept in the state file (the scheduler's digest). */
  note(key: string): string | undefined {
    return this.deps.store.getNote(key);
  }

  setNote(key: string, value: string): void {
    this.deps.store.setNote(key, value);
  }

  backup(request: BackupRequest): Promise<BackupOutcome> {
    return this.tracker.track('backup', request, (r) =>
      this.thenRemoveDebris(runBackup(this.deps, r).then((o) => this.archiveAfterBackup(o))),
    );
  }

  verify(request: Parameters<typeof runVerify>[1]): Promise<VerifyOutcome> {
    return this.tracker.track('verify', request, (r) => this.thenRemoveDebris(runVerify(this.deps, r)));
  }

  test(request: Parameters<typeof runRecoveryTest>[1]): Promise<VerifyOutcome> {
    return this.tracker.track('test', request, (r) => this.thenRemoveDebris(runRecoveryTest(this.deps, r)));
  }

  restore(request: RestoreRequest): Promise<RestoreOutcome> {
    return this.tracker.track('restore', request, (r) => this.thenRemoveDebris(runRestore(this.deps, r)));
  }

  undo(request: Parameters<typeof runUndo>[1]): Promise<RestoreOutcome> {
    return this.tracker.track('undo', request, (r) => this.thenRemoveDebris(runUndo(this.deps, r)));
  }

  /**
   * Takes up a restore or undo that a stopped process left waiting for approval, once its card
   * is acted on: assessed again, put to `gate`, then carried on (see resumeRestore).
   */
  resumeRestore(request: {
    runId: string;
    gate: ApprovalGate;
    observer?: RunObserver;
  }): Promise<RestoreOutcome> {
    return this.tracker.track('restore', request, (r) => this.thenRemoveDebris(resumeRestore(this.deps, r)));
  }

  /** Records an approval card, so that it can still be acted on after a restart. */
  saveApproval(approval: ApprovalRecord): void {
    this.deps.store.saveApproval(approval);
  }

  approval(runId: string): ApprovalRecord | undefined {
    return this.deps.store.approval(runId);
  }

  /** Approval cards still open (their buttons still shown), oldest first. */
  approvals(): ApprovalRecord[] {
    return this.deps.store.approvals();
  }

  /** The card shows its outcome now: it is no longer open. */
  closeApproval(runId: string): void {
    this.deps.store.closeApproval(runId);
  }

  /**
   * Settles runs a stopped process left waiting for approval that nobody can approve any more
   * (no card, withdrawn, or expired); see settleOrphanedApprovals. Returns them.
   */
  settleOrphanedApprovals(): Run[] {
    return settleOrphanedApprovals(this.deps);
  }

  /** Ends, with `decision`, the approval of a run no live process waits on; see settleOrphan. */
  settleApproval(runId: string, decision: Extract<ApprovalDecision, { approved: false }>): Run | undefined {
    return settleOrphan(this.deps, runId, decision);
  }

  /** The newest failed or interrupted run that worked on `asset`. */
  lastFailure(asset: string): Run | undefined {
    return this.deps.store.lastRun({ asset, status: ['failed', 'interrupted'] });
  }

  /**
   * Asks a run to stop before its next stage. A pending approval is withdrawn at once; a
   * restore that has started replacing data cannot be stopped (undo it afterwards instead).
   */
  cancel(runId: string, by: string): { run: Run; message: string } {
    const { run, events } = this.run(runId);
    if (run.status !== 'running' && run.status !== 'pending-approval') {
      throw userError(
        ErrorCode.USAGE,
        `${runId} is already ${run.status}; only running or pending runs can be cancelled`,
      );
    }
    if (
      (run.kind === 'restore' || run.kind === 'undo') &&
      events.some((e) => e.stage === 'restore' && e.type === 'stage-start')
    ) {
      throw userError(
        ErrorCode.USAGE,
        `${runId} is already replacing live data and cannot be stopped safely; let it finish, then \`undo ${runId}\` if needed`,
      );
    }
    const at = this.deps.clock.now();
    this.deps.store.requestCancel(runId, by, at);
    this.audit(runId, `cancel requested by ${by}`);
    // A run whose process is gone reads no flag: its pending approval is withdrawn here.
    if (run.status === 'pending-approval')
      this.deps.store.settlePending(runId, {
        status: 'cancelled',
        at,
        reason: `withdrawn: cancelled by ${by}`,
        by,
      });
    return {
      run,
      message:
        run.status === 'pending-approval'
          ? `${runId}: the approval request is withdrawn`
          : `${runId} will stop before its next stage`,
    };
  }

  /**
   * Begins stopping (SIGTERM, SIGINT): from now on no new run starts. A restore or undo that
   * is working may finish within `restore.shutdownGrace`; one still working then is marked
   * failed and the containers it stopped are started again. `notify` tells people (the alerts
   * channel, stderr) what it waits for and how each run ended. See RunTracker.
   */
  shutdown(options: {
    reason: string;
    notify?: (notice: Notice) => Promise<void> | void;
  }): Promise<ShutdownReport> {
    return this.tracker.shutdown(this.deps, { ...options, graceMs: this.deps.config.ms.shutdownGrace });
  }

  /** Stops waiting at once (a second signal): what `shutdown` does when its grace runs out. */
  stopWaiting(): void {
    this.tracker.cutShort();
  }

  /** `catalog rebuild`: reads the targets and adds what the catalog lacks (DESIGN §9). */
  async rebuildCatalog(options: { source?: string } = {}): Promise<RebuildReport> {
    const report = await rebuildCatalog(this.deps, options);
    // Archived logs newer than the state snapshot are known only from the targets.
    const logs = await rebuildLogCatalog(this.deps);
    if (logs.added || logs.problems.length)
      this.deps.log.info(
        { added: logs.added, problems: logs.problems },
        'archived logs added to the catalog',
      );
    this.deps.log.info(
      {
        read: report.read,
        unreachable: report.unreachable,
        snapshot: report.snapshot?.setId,
        added: report.added.length,
        skipped: report.skipped,
      },
      'catalog rebuilt from the targets',
    );
    return report;
  }

  /**
   * With an empty or new state file (a new host), rebuilds the catalog from the targets before
   * anything answers, so `status`, `runs` and `restore` see the sets in the buckets. Returns
   * the report when it rebuilt, undefined when the catalog already had something.
   */
  async ensureCatalog(): Promise<RebuildReport | undefined> {
    if (!this.deps.store.isEmpty()) return undefined;
    const report = await this.rebuildCatalog();
    return report.snapshot || report.added.length ? report : undefined;
  }

  /** Records something that happened to a run from outside it (an approval click, a refusal). */
  audit(runId: string, message: string, data?: Record<string, unknown>): void {
    this.deps.store.appendEvent(runId, {
      at: this.deps.clock.now(),
      stage: 'assemble',
      type: 'info',
      message,
      ...(data ? { data } : {}),
    });
  }

  /** The tier table and who is on it; requests at the same moment share one computation. */
  policy(): Promise<PolicyRow[]> {
    return this.policyRead.get();
  }

  /**
   * Every asset's newest and newest verified backup against its RPO. Requests that arrive
   * while one is computed, with nothing recorded since, share it (see SharedRead).
   */
  status(): Promise<StatusReport> {
    return this.statusRead.get();
  }

  /** The newest `limit` runs, newest first; with `before` (a run id), the page older than it. */
  runs(limit: number, before?: string): Run[] {
    if (before !== undefined && !this.deps.store.getRun(before))
      throw userError(ErrorCode.RUN_NOT_FOUND, `--before ${before}: no such run`);
    return this.deps.store.listRuns(limit, before);
  }

  /** How many runs there are of each kind and status. */
  runCounts(): Array<{ kind: RunKind; status: RunStatus; n: number }> {
    return this.deps.store.runCounts();
  }

  /** The newest run of `kind` that started and ended. */
  lastFinishedRun(kind: RunKind): Run | undefined {
    return this.deps.store.lastRun({ kind, ended: true });
  }

  /** Catalog upkeep (see compactCatalog); backups do it after their prune. */
  compactCatalog(): Promise<CompactionReport> {
    return compactCatalog(this.deps);
  }

  /** What retention would delete now, and what it keeps and why; deletes nothing. */
  planRetention(): Promise<RetentionPlan> {
    return planRetention(this.deps);
  }

  /** A run by id, or undefined (for callers that handle a missing run themselves). */
  findRun(id: string): Run | undefined {
    return this.deps.store.getRun(id);
  }

  /** A run and its timeline; a clear error naming recent runs when there is no such run. */
  run(id: string): { run: Run; events: RunEvent[]; summary?: EventsSummary } {
    const run = this.deps.store.getRun(id);
    if (!run) {
      const recent = this.deps.store.listRuns(5).map((r) => r.id);
      throw userError(
        ErrorCode.RUN_NOT_FOUND,
        `no run '${id}'${recent.length ? `; recent runs: ${recent.join(', ')}` : ''}`,
      );
    }
    const summary = this.deps.store.eventsSummary(id);
    return { run, events: this.deps.store.events(id), ...(summary ? { summary } : {}) };
  }

  /**
   * Marks runs left `running` by a dead process as `interrupted`. What they left behind is for
   * `removeDebris`; their safety snapshots stay: they are complete sets.
   */
  async recoverInterrupted(): Promise<Run[]> {
    return this.deps.store.interruptRunning(this.deps.clock.now());
  }

  /**
   * Removes what runs no longer running left behind (partial files, open multipart uploads,
   * scratch and volume anchors), never what a live run is using; see removeDebris. Called at
   * start-up and after every run; one at a time.
   */
  removeDebris(): Promise<DebrisReport> {
    const next = this.sweeping.then(() => removeDebris(this.deps));
    this.sweeping = next.catch(() => undefined);
    return next;
  }

  // --- point-in-time recovery (DESIGN §11; engine/pitr) ---

  /** Protected databases whose tier has `pitr`: their binary logs or WAL are archived continuously. */
  async pitrDatabases(): Promise<DatabaseAsset[]> {
    const inventory = await this.inventory();
    return inventory.assets.flatMap((a) =>
      a.kind === 'database' && a.policy.protected && a.policy.pitrMs !== undefined ? [a] : [],
    );
  }

  /** One archive pass for a database: its closed binary logs or WAL to every target (see archivePass). */
  archiveLogs(db: DatabaseAsset): Promise<ArchivePass> {
    return archivePass(this.deps, db);
  }

  /** Recovery windows, gaps in the log chain and the newest archived log of an asset. */
  pitrState(asset: string): PitrState {
    return pitrState(this.deps, asset);
  }

  /** The latest time an asset can be restored to from a deep-verified dump and its logs. */
  recoverablePoint(asset: string): Date | undefined {
    return recoverablePoint(this.deps, asset);
  }

  /** Why a database cannot have point-in-time recovery (the setting to change), if it cannot. */
  pitrProblem(db: DatabaseAsset): Promise<string | undefined> {
    return prerequisiteProblem(this.deps, db);
  }

  /**
   * After a backup, an archive pass for each point-in-time database it dumped: without the Slack
   * app's scheduler (cron running `drbot backup`), logs are archived at least that often.
   */
  private async archiveAfterBackup(o: BackupOutcome): Promise<BackupOutcome> {
    if (o.status !== 'succeeded') return o;
    const dumped = new Set(o.artifacts.filter((a) => a.kind !== 'volume-tar').map((a) => a.asset));
    // Databases from the config file are known without listing Docker again (a report may
    // hold the listing); only when the backup dumped one found by labels is the inventory read.
    const { config } = this.deps;
    const configured = new Set(config.databases.map((d) => d.name));
    const databases: PitrDatabase[] = [...dumped].some((a) => !configured.has(a))
      ? (await this.pitrDatabases().catch(() => [])).filter((d) => dumped.has(d.name))
      : config.databases.flatMap((d) =>
          dumped.has(d.name) && config.tierMap.get(d.tier)?.pitrMs !== undefined
            ? [
                {
                  name: d.name,
                  engine: d.engine,
                  container: d.container,
                  user: d.user ?? DEFAULT_DB_USER[d.engine],
                  passwordEnv: d.passwordEnv ?? DEFAULT_PASSWORD_ENV[d.engine],
                },
              ]
            : [],
        );
    for (const db of databases) await archivePass(this.deps, db);
    return o;
  }

  /** An asset's archived logs (not pruned), oldest first. */
  archivedLogs(asset: string): PitrLog[] {
    return this.deps.store.pitrLogs(asset);
  }

  /** `policy` lines for point-in-time recovery: tiers' `pitr` and databases that cannot have it. */
  async pitrPolicy(): Promise<string[]> {
    return pitrPolicyLines(this.deps, await this.inventory());
  }

  // --- storage: Object Lock, lifecycle rules, IAM policies (DESIGN §10) ---

  /** Refuses a target configured with Object Lock whose bucket lacks it; warnings for unreachable ones. */
  checkStorage(): Promise<string[]> {
    return checkImmutability(this.deps.targets);
  }

  /** `storage policy`: the IAM policies for drbot's runtime credentials and for `storage apply`. */
  storagePolicies(): ReturnType<typeof storagePolicies> {
    return storagePolicies(this.deps.config);
  }

  /** `storage apply`: writes the S3 targets' lifecycle rules and reads them back. */
  applyStorage(): Promise<AppliedLifecycle[]> {
    return applyStorage(this.deps);
  }

  /** `policy` lines for storage: tier transitions, Object Lock and the lifecycle rules in force. */
  storagePolicyLines(): Promise<string[]> {
    return storageLines(this.deps);
  }

  private sweeping: Promise<unknown> = Promise.resolve();

  /** Settles with the run's own outcome, once what runs left behind is cleaned up after it. */
  private async thenRemoveDebris<T>(run: Promise<T>): Promise<T> {
    try {
      return await run;
    } finally {
      // The clean-up reports its own problems; none of them is the run's outcome.
      await this.removeDebris().catch((err) =>
        this.deps.log.warn({ err: (err as Error).message }, 'clean-up after a run failed'),
      );
    }
  }
}
