// Catalog queries: the newest (or newest verified) backup set per asset.
import type { ArtifactRecord, SetRecord, StateStore } from '../../ports/state-store.js';

/**
 * For each asset, the newest complete backup set holding an artifact of it that matches `pred`
 * (e.g. deep-verified). Safety snapshots are not restore points and are left out.
 */
export function newestPerAsset(
  store: Pick<StateStore, 'listSets'>,
  pred: (a: ArtifactRecord) => boolean = () => true,
): Map<string, SetRecord> {
  const out = new Map<string, SetRecord>();
  // listSets is newest first: the first hit per asset is its newest.
  for (const s of store.listSets({ status: ['complete'], purpose: 'backup' })) {
    for (const a of s.artifacts) {
      if (a.status === 'complete' && !out.has(a.asset) && pred(a)) out.set(a.asset, s);
    }
  }
  return out;
}

export const isDeepVerified = (a: ArtifactRecord) => a.deepVerifiedAt !== undefined;
