// `status`: every asset's newest and newest verified backup, and its state against the RPO.
import { type Asset, coveredByDump } from '../../domain/assets.js';
import type { InvalidAsset, UnprotectedVolume } from '../../domain/inventory.js';
import { rpoBreached } from '../../domain/policy.js';
import { newestPerAsset } from '../catalog/catalog.js';
import { loadInventory } from '../catalog/inventory.js';
import type { EngineDeps } from '../deps.js';
import { pitrStatusLines } from '../pitr/window.js';

/**
 * Where an asset stands: `breach` exactly when the RPO monitor alerts (no verified backup within
 * the RPO); `unverified` when it is within its RPO but a newer set still awaits its deep verify;
 * `ok` when its newest set is verified and within the RPO; `covered` for a database's data
 * volume that its dump protects (never archived live).
 */
export type ProtectionState = 'ok' | 'unverified' | 'breach' | 'never' | 'excluded' | 'no-rpo' | 'covered';

export interface AssetStatus {
  asset: Asset;
  newest: { setId: string; at: Date; ageMs: number; size: number | undefined } | undefined;
  newestVerified: { setId: string; at: Date; ageMs: number } | undefined;
  state: ProtectionState;
  /** For databases: whether the container exists and runs. */
  container: string | undefined;
}

export interface StatusReport {
  at: Date;
  assets: AssetStatus[];
  unprotected: UnprotectedVolume[];
  invalid: InvalidAsset[];
  targets: string[];
  lastRun: { id: string; kind: string; status: string; at: Date } | undefined;
  /** Point-in-time databases: recovery window, newest log's age, or the setting to change. */
  pitr?: string[];
}

/**
 * What is protected and how well: every asset with its tier, newest complete set, newest
 * verified set and its age against the RPO; unprotected volumes; assets whose labels are wrong.
 */
export async function buildStatus(deps: EngineDeps): Promise<StatusReport> {
  const now = deps.clock.now();
  const [inventory, containers] = await Promise.all([loadInventory(deps), deps.runtime.listContainers()]);
  const newestSets = newestPerAsset(deps.store);
  const verifiedSets = newestPerAsset(deps.store, { deepVerified: true });
  const assets = inventory.assets.map((asset): AssetStatus => {
    const newestSet = newestSets.get(asset.name);
    const verifiedSet = verifiedSets.get(asset.name);
    const artifact = newestSet?.artifacts.find((a) => a.asset === asset.name);
    const newest = newestSet && {
      setId: newestSet.id,
      at: newestSet.createdAt,
      ageMs: now.getTime() - newestSet.createdAt.getTime(),
      size: artifact?.size,
    };
    const newestVerified = verifiedSet && {
      setId: verifiedSet.id,
      at: verifiedSet.createdAt,
      ageMs: now.getTime() - verifiedSet.createdAt.getTime(),
    };
    let state: ProtectionState;
    if (coveredByDump(asset)) state = 'covered';
    else if (!asset.policy.protected) state = 'excluded';
    else if (!newest) state = 'never';
    else if (asset.policy.rpoMs === undefined) state = 'no-rpo';
    // The newest *verified* set decides, as for the RPO monitor: an upload alone proves nothing.
    else if (rpoBreached(asset.policy.rpoMs, verifiedSet?.createdAt, now)) state = 'breach';
    else state = verifiedSet?.id === newestSet?.id ? 'ok' : 'unverified';
    let container: string | undefined;
    if (asset.kind === 'database') {
      const c = containers.find((x) => x.name === asset.container);
      container = c ? `${c.name} (${c.state})` : `${asset.container} (not found)`;
    }
    return { asset, newest, newestVerified, state, container };
  });
  const last = deps.store.listRuns(1)[0];
  return {
    at: now,
    assets,
    unprotected: inventory.unprotected,
    invalid: inventory.invalid,
    targets: deps.targets.map((t) => `${t.name}: ${t.location}`),
    lastRun: last && { id: last.id, kind: last.kind, status: last.status, at: last.createdAt },
    pitr: await pitrStatusLines(deps, inventory),
  };
}
