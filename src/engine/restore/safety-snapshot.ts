// The safety snapshot: the state a restore is about to replace, saved as a set for undo.
import type { Asset } from '../../domain/assets.js';
import type { PlannedAsset, RestorePlan } from '../../domain/restore-plan.js';
import { describeError, ErrorCode, externalError, toAppError } from '../../errors.js';
import { SetWriteError, writeSet } from '../backup/set-writer.js';
import { waitForDatabase } from '../db/db-restore.js';
import type { EngineDeps } from '../deps.js';
import type { RunContext } from '../runs/run-context.js';
import { liveDbTarget, plannedDb } from './restore-steps.js';

/**
 * The state about to be replaced, saved as a set of its own (purpose `safety`) on the local
 * target, so the restore can be undone. Assets that are gone (a removed volume) have nothing
 * to save. If the snapshot fails, the restore stops here, before touching anything.
 */
export async function safetySnapshot(
  deps: EngineDeps,
  ctx: RunContext,
  plan: RestorePlan,
  live: Asset[],
): Promise<string | undefined> {
  const { assets, existing } = snapshotAssets(plan, live);
  // A database can only be dumped while its server runs.
  for (const a of existing.filter((x) => x.kind === 'database')) {
    await deps.runtime.startContainer(a.container as string);
    await waitForDatabase(await liveDbTarget(deps, a), deps.clock, deps.config.ms.restoreReadiness);
  }
  if (!assets.length) {
    ctx.warn('nothing to snapshot: every asset to restore is gone');
    return undefined;
  }
  const local = deps.targets[0];
  if (!local) throw externalError(ErrorCode.SAFETY_SNAPSHOT_FAILED, 'no target to keep a safety snapshot on');
  try {
    const written = await writeSet(deps, ctx, {
      assets,
      purpose: 'safety',
      at: deps.clock.now(),
      targets: [local],
      phase: (_name, fn) => fn(ctx.log),
    });
    ctx.info(
      `safety snapshot ${written.setId} complete (${written.artifacts.map((a) => a.asset).join(', ')}) on ${local.name}`,
      { safetySetId: written.setId },
    );
    return written.setId;
  } catch (err) {
    const e = toAppError(err);
    throw externalError(
      ErrorCode.SAFETY_SNAPSHOT_FAILED,
      `safety snapshot failed, so nothing was restored: ${err instanceof SetWriteError ? err.failures.join(' | ') : describeError(e)}`,
      {
        cause: e,
        step: 'restore',
      },
    );
  }
}

/**
 * What the safety snapshot saves: each planned asset that exists now, as the inventory knows
 * it, or, known only from the catalog, as its backup recorded it (a database's engine, user
 * and password variable: PostgreSQL's defaults are not MySQL's). `existing` are the planned
 * assets with a current state, gone volumes and databases a bare-host restore creates left out.
 */
export function snapshotAssets(
  plan: RestorePlan,
  live: Asset[],
): { assets: Asset[]; existing: PlannedAsset[] } {
  const byName = new Map(live.map((a) => [a.name, a]));
  const assets: Asset[] = [];
  // Databases whose containers a bare-host restore creates have no current state to save.
  const created = new Set(plan.rebuild?.databases ?? []);
  const existing = plan.assets.filter((a) => !(a.kind === 'database' && created.has(a.container ?? '')));
  for (const a of existing) {
    const current = byName.get(a.asset);
    if (a.kind === 'volume' && !a.exists) continue;
    if (current) assets.push(current);
    else if (a.kind === 'volume') {
      assets.push({
        kind: 'volume',
        name: a.asset,
        volume: a.asset,
        labels: a.labels ?? {},
        usedBy: [],
        policy: unprotectedPolicy(),
      });
    } else {
      assets.push({
        kind: 'database',
        name: a.asset,
        ...plannedDb(a),
        container: a.container as string,
        policy: unprotectedPolicy(),
        source: 'config',
      });
    }
  }
  return { assets, existing };
}

function unprotectedPolicy(): Asset['policy'] {
  return {
    tier: '-',
    schedule: undefined,
    frequency: undefined,
    retention: { count: 7, unit: 'day' },
    rpoMs: undefined,
    rtoMs: undefined,
    protected: false,
  };
}
