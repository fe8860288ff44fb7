// Catalog queries: the newest (or newest verified) backup set per asset.
import type { SetRecord, StateStore } from '../../ports/state-store.js';

/**
 * For each asset, the newest complete backup set holding a complete artifact of it (with
 * `deepVerified`, a deep-verified one). Safety snapshots are not restore points and are left
 * out. One index lookup per asset: it does not grow with the number of sets kept.
 */
export function newestPerAsset(
  store: Pick<StateStore, 'newestSets'>,
  options: { deepVerified?: boolean } = {},
): Map<string, SetRecord> {
  return store.newestSets(options);
}

/**
 * The newest complete backup sets, one per asset the catalog holds (fewer when one set is the
 * newest of several), newest first: every set a restore without `--from` can pick from.
 */
export function newestBackupSets(store: Pick<StateStore, 'newestSets'>): SetRecord[] {
  const unique = new Map<string, SetRecord>();
  for (const set of store.newestSets().values()) unique.set(set.id, set);
  return [...unique.values()];
}
