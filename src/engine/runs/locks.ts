// One destructive run per asset: the asset lock, taken in one write transaction of the state file.
import { type Run, type RunStatus, runAssets } from '../../domain/runs.js';
import { ErrorCode, userError } from '../../errors.js';
import type { ActiveRun } from '../../ports/state-store.js';
import type { EngineDeps } from '../deps.js';

const DESTRUCTIVE = new Set(['restore', 'undo']);

/**
 * Whether a new run of `kind` may start while `other` works on the same asset. Destructive
 * runs exclude each other, even while one waits for approval; backups do not overlap; a backup
 * may run while a restore only waits for approval (refusing it would let the RPO lapse), never
 * while one is replacing data.
 */
function conflicts(kind: string, other: { kind: string; status: RunStatus }): boolean {
  if (DESTRUCTIVE.has(kind) || other.kind === kind) return true;
  if (DESTRUCTIVE.has(other.kind)) return other.status !== 'pending-approval';
  return false;
}

/**
 * Whether a run in progress still holds its assets at `now`. A run waiting for approval holds
 * them while its process waits, or while its posted card can still be acted on (the app that
 * owns approvals takes the request up on a click, after a restart too); one whose process died
 * with no card to act on, or whose card has expired, holds nothing, whether or not anyone has
 * marked it yet.
 */
export function holdsAssets(a: ActiveRun, now: Date): boolean {
  if (a.run.status !== 'pending-approval' || a.ownerLive) return true;
  return a.approval?.messageTs !== undefined && now.getTime() < a.approval.expiresAt.getTime();
}

/**
 * One run per asset at a time, across every drbot process on the state file (the bot and a CLI
 * on the same host): the runs in progress are read and `start` records the new run (with the
 * assets it works on) inside one write transaction taken before the read, so two processes
 * cannot both pass. Returns what `start` returned. A request that conflicts is refused with the
 * id of the run in progress, and nothing is recorded. `own`: the run being taken up again
 * (a restore resumed after a restart), which does not conflict with itself.
 */
export function acquireAssets<T extends Run>(
  deps: Pick<EngineDeps, 'store' | 'clock'>,
  kind: string,
  assets: string[],
  start: () => T,
  own?: string,
): T {
  return deps.store.exclusive(() => {
    const now = deps.clock.now();
    for (const a of deps.store.activeRuns()) {
      if (a.run.id === own || !holdsAssets(a, now)) continue;
      const theirs = runAssets(a.run);
      const clash = assets.find((x) => theirs.includes(x));
      if (clash && conflicts(kind, a.run)) throw busy(clash, a);
    }
    return start();
  });
}

function busy(asset: string, a: ActiveRun) {
  const { run, approval } = a;
  const waiting =
    run.status === 'pending-approval'
      ? `, waiting for approval${approval ? ` until ${approval.expiresAt.toISOString()}` : ''}`
      : '';
  return userError(
    ErrorCode.ASSET_BUSY,
    `asset '${asset}' is busy: ${run.id} (${run.kind}) is in progress${waiting}; wait for it or cancel it (cancel ${run.id})`,
  );
}
