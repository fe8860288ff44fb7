// The backup run: inventory → dump → verify → prune → report.
import type { BackupRunResult, Run } from '../../domain/runs.js';
import { describeError, ErrorCode, toAppError } from '../../errors.js';
import { compactCatalog } from '../catalog/compact.js';
import { loadInventory, selectAssets } from '../catalog/inventory.js';
import { type PruneReport, pruneExpired } from '../catalog/prune.js';
import type { EngineDeps } from '../deps.js';
import { acquireAssets } from '../runs/locks.js';
import { combineObservers, RunContext, type RunObserver } from '../runs/run-context.js';
import { type ArtifactSummary, SetWriteError, writeSet } from './set-writer.js';

export type { ArtifactSummary } from './set-writer.js';

export interface BackupRequest {
  /** `all` or one asset name (or, with `assets`, a label for the run such as a schedule). */
  target: string;
  /** Exactly these assets (the scheduler's groups); each must be protected. */
  assets?: string[];
  requester: string;
  /** Hears this run's progress (the front end that asked). */
  observer?: RunObserver;
}

export interface BackupOutcome {
  run: Run;
  setId: string;
  status: 'succeeded' | 'failed' | 'cancelled';
  artifacts: ArtifactSummary[];
  failures: string[];
  skipped: string[];
  prune: PruneReport | undefined;
  targets: string[];
}

/**
 * The backup run: inventory → dump (one streamed pass per asset: source → gzip → sha256 →
 * every target at once) → verify (each copy confirmed: read back and hashed, or by S3's own
 * checksums) → manifest → prune → report. A set is complete only when every artifact is
 * confirmed on every target; anything else fails the run, removes what was written and records
 * the cause.
 */
export async function runBackup(deps: EngineDeps, request: BackupRequest): Promise<BackupOutcome> {
  const { store, clock } = deps;
  const inventory = await loadInventory(deps);
  const assets = request.assets
    ? request.assets.flatMap((name) => selectAssets(inventory, name))
    : selectAssets(inventory, request.target);
  const names = assets.map((a) => a.name);
  const startedAt = clock.now();
  // The run is recorded with its assets under the lock: from then on it holds them.
  let run = acquireAssets(deps, 'backup', names, () => {
    const created = store.createRun({
      kind: 'backup',
      requester: request.requester,
      target: request.target,
      status: 'running',
      at: startedAt,
    });
    return store.updateRun(created.id, { startedAt, result: { assets: names } });
  });
  const outcome: BackupOutcome = {
    run,
    setId: '',
    status: 'failed',
    artifacts: [],
    failures: [],
    skipped: [],
    prune: undefined,
    targets: deps.targets.map((t) => `${t.name} (${t.location})`),
  };
  try {
    const ctx = new RunContext(
      run,
      store,
      clock,
      deps.log,
      combineObservers(request.observer, deps.observer),
    );
    // Once the set is complete, stopping would only skip pruning and the report.
    ctx.cancellableStages = new Set(['inventory', 'dump', 'verify']);
    try {
      await ctx.stage('inventory', async () => {
        ctx.info(`backing up ${names.join(', ')} to ${outcome.targets.join(', ')}`, { assets: names });
        if (request.target === 'all') {
          for (const bad of inventory.invalid) {
            const msg = `skipped ${bad.kind} ${bad.name}: ${bad.problems.join('; ')}`;
            outcome.skipped.push(msg);
            ctx.warn(msg);
          }
        }
        await Promise.all(deps.targets.map((t) => t.check()));
      });
      const written = await writeSet(deps, ctx, {
        assets,
        purpose: 'backup',
        at: startedAt,
        targets: deps.targets,
        phase: (name, fn) => ctx.stage(name, fn),
      });
      outcome.setId = written.setId;
      outcome.artifacts = written.artifacts;
    } catch (err) {
      const e = toAppError(err);
      if (err instanceof SetWriteError) {
        outcome.setId = err.setId;
        outcome.failures = err.failures;
      } else {
        outcome.failures = [describeError(e)];
      }
      outcome.status = e.code === ErrorCode.CANCELLED ? 'cancelled' : 'failed';
      run = store.updateRun(run.id, {
        status: outcome.status,
        endedAt: clock.now(),
        error: outcome.failures.join(' | '),
        result: resultOf(outcome, names),
      });
      ctx.error(`backup ${outcome.status}: ${outcome.failures.join(' | ')}`, { code: e.code });
      return { ...outcome, run };
    }

    // The set is safe now; pruning problems are reported but do not fail the backup.
    outcome.prune = await ctx
      .stage('prune', async () => {
        const report = await pruneExpired(deps, ctx);
        const compacted = await compactCatalog(deps);
        if (compacted.artifacts || compacted.runs)
          ctx.info(
            `catalog compacted: rows of ${compacted.artifacts} long-pruned artifact(s) and ${compacted.sets} set(s) removed, ${compacted.events} old info event(s) of ${compacted.runs} run(s) summarised`,
            { ...compacted },
            'prune',
          );
        return report;
      })
      .catch((err) => {
        ctx.warn(`prune did not complete: ${describeError(err)}`);
        return undefined;
      });
    outcome.status = 'succeeded';
    await ctx.stage('report', async () => {
      const total = outcome.artifacts.reduce((n, a) => n + a.size, 0);
      ctx.info(
        `backup ${outcome.setId}: ${outcome.artifacts.length} artifact(s), ${total} bytes compressed`,
        { setId: outcome.setId, bytes: total },
      );
    });
    run = store.updateRun(run.id, {
      status: 'succeeded',
      endedAt: clock.now(),
      result: resultOf(outcome, names),
    });
    return { ...outcome, run };
  } catch (err) {
    // Only reached by a bug in the handling above: never leave the run looking alive.
    store.updateRun(run.id, { status: 'failed', endedAt: clock.now(), error: describeError(err) });
    throw err;
  }
}

function resultOf(o: BackupOutcome, assets: string[]): BackupRunResult {
  return {
    assets,
    setId: o.setId,
    artifacts: o.artifacts,
    failures: o.failures,
    skipped: o.skipped,
    pruned: o.prune?.deleted.length ?? 0,
  };
}
