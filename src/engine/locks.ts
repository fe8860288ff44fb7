import { ErrorCode, userError } from '../errors.js';
import type { EngineDeps } from './deps.js';

/** Assets with a run in progress in this process, and that run's id once known. */
const held = new Map<string, { kind: string; runId: string | undefined }>();

export interface AssetLock {
  /** Records which run holds the lock (for the message a second request gets). */
  bind(runId: string): void;
  release(): void;
}

/**
 * One run per asset at a time. Checked in this process (exact) and against the state file for
 * runs of other live drbot processes (the bot and a CLI on the same host); a second request is
 * refused with the id of the run in progress.
 */
export function acquireAssets(deps: Pick<EngineDeps, 'store'>, kind: string, assets: string[]): AssetLock {
  for (const a of assets) {
    const h = held.get(a);
    if (h) throw busy(a, h.kind, h.runId);
  }
  for (const run of deps.store.listRuns(200)) {
    if (run.status !== 'running' && run.status !== 'pending-approval') continue;
    const theirs = Array.isArray(run.result.assets) ? (run.result.assets as string[]) : [];
    const clash = assets.find((a) => theirs.includes(a));
    if (clash) throw busy(clash, run.kind, run.id);
  }
  const entry = { kind, runId: undefined as string | undefined };
  for (const a of assets) held.set(a, entry);
  return {
    bind: (runId) => {
      entry.runId = runId;
    },
    release: () => {
      for (const a of assets) if (held.get(a) === entry) held.delete(a);
    },
  };
}

function busy(asset: string, kind: string, runId: string | undefined) {
  return userError(
    ErrorCode.ASSET_BUSY,
    `asset '${asset}' is busy: ${runId ?? 'another run'} (${kind}) is in progress; wait for it or cancel it`,
  );
}
