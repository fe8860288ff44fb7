// One destructive run per asset: the asset lock.
import { type RunStatus, runAssets } from '../../domain/runs.js';
import { ErrorCode, userError } from '../../errors.js';
import type { EngineDeps } from '../deps.js';

/** Assets with a run in progress in this process, and that run's id once known. */
const held = new Map<string, Array<{ kind: string; runId: string | undefined }>>();

export interface AssetLock {
  /** Records which run holds the lock (for the message a second request gets). */
  bind(runId: string): void;
  release(): void;
}

const DESTRUCTIVE = new Set(['restore', 'undo']);

/**
 * Whether a new run of `kind` may start while `other` works on the same asset. Destructive
 * runs exclude each other, even while one waits for approval; backups do not overlap; a backup
 * may run while a restore only waits for approval (refusing it would let the RPO lapse), never
 * while one is replacing data.
 */
function conflicts(kind: string, other: { kind: string; status: RunStatus | undefined }): boolean {
  if (DESTRUCTIVE.has(kind) || other.kind === kind) return true;
  if (DESTRUCTIVE.has(other.kind)) return other.status !== 'pending-approval';
  return false;
}

/**
 * One run per asset at a time, as above. Checked in this process and against the state file
 * for runs of other live drbot processes (the bot and a CLI on the same host); a request that
 * conflicts is refused with the id of the run in progress.
 */
export function acquireAssets(deps: Pick<EngineDeps, 'store'>, kind: string, assets: string[]): AssetLock {
  const statusOf = (runId: string | undefined) => (runId ? deps.store.getRun(runId)?.status : undefined);
  for (const a of assets) {
    for (const h of held.get(a) ?? []) {
      if (conflicts(kind, { kind: h.kind, status: statusOf(h.runId) })) throw busy(a, h.kind, h.runId);
    }
  }
  for (const run of deps.store.listRuns(200)) {
    if (run.status !== 'running' && run.status !== 'pending-approval') continue;
    const theirs = runAssets(run);
    const clash = assets.find((a) => theirs.includes(a));
    if (clash && conflicts(kind, { kind: run.kind, status: run.status })) throw busy(clash, run.kind, run.id);
  }
  const entry = { kind, runId: undefined as string | undefined };
  for (const a of assets) held.set(a, [...(held.get(a) ?? []), entry]);
  return {
    bind: (runId) => {
      entry.runId = runId;
    },
    release: () => {
      for (const a of assets) {
        const left = (held.get(a) ?? []).filter((e) => e !== entry);
        if (left.length) held.set(a, left);
        else held.delete(a);
      }
    },
  };
}

function busy(asset: string, kind: string, runId: string | undefined) {
  return userError(
    ErrorCode.ASSET_BUSY,
    `asset '${asset}' is busy: ${runId ?? 'another run'} (${kind}) is in progress; wait for it or cancel it`,
  );
}
