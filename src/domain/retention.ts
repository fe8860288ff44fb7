// Retention planning: which artifacts expire, never an asset's last good backup.
import { type RetentionPeriod, retentionCutoff } from './duration.js';
import type { KeepRule } from './keep-rules.js';

/** One stored artifact as retention sees it. */
export interface RetainedArtifact {
  setId: string;
  asset: string;
  /** The set's recorded time — never a file's mtime. */
  setTime: Date;
  /** Proven restorable by a deep verify. */
  verified: boolean;
}

export interface PrunePlan {
  expire: RetainedArtifact[];
  /** Per asset with keep rules, the sets they keep and which rules keep each. */
  keptByRules: Map<string, Map<string, KeepRule[]>>;
  /** Unverified artifacts newer than their asset's newest verified one, kept until verified. */
  awaitingVerify: RetainedArtifact[];
  /** Per asset, why its newest artifacts are kept regardless of age. */
  protectedSets: Map<string, string[]>;
  /** Expired artifacts kept because a run that has not finished is about to read their set. */
  keptInUse: RetainedArtifact[];
}

/**
 * Decides what retention removes (pure). An artifact expires when its set is older than its
 * asset's retention, except that the newest complete artifact and the newest verified one of
 * each asset are always kept, and so is every set in `inUse` (named by a restore waiting for
 * approval, say: deleting it would leave that run nothing to restore), and every set the
 * asset's keep rules keep (`keptByRules`, worked out from the verified sets). Assets whose retention
 * is unknown (no longer in the inventory, perhaps the very volume that was lost, or no longer
 * backed up) keep everything.
 */
export function planPrune(
  now: Date,
  artifacts: readonly RetainedArtifact[],
  retentionOf: (asset: string) => RetentionPeriod | undefined,
  inUse: ReadonlySet<string> = new Set(),
  keptByRules: Map<string, Map<string, KeepRule[]>> = new Map(),
): PrunePlan {
  const byAsset = new Map<string, RetainedArtifact[]>();
  for (const a of artifacts) byAsset.set(a.asset, [...(byAsset.get(a.asset) ?? []), a]);
  const expire: RetainedArtifact[] = [];
  const keptInUse: RetainedArtifact[] = [];
  const awaitingVerify: RetainedArtifact[] = [];
  const protectedSets = new Map<string, string[]>();
  for (const [asset, list] of byAsset) {
    const sorted = [...list].sort(
      (x, y) => y.setTime.getTime() - x.setTime.getTime() || y.setId.localeCompare(x.setId),
    );
    const keep = new Set<string>();
    if (sorted[0]) keep.add(sorted[0].setId);
    const newestVerified = sorted.find((a) => a.verified);
    if (newestVerified) keep.add(newestVerified.setId);
    protectedSets.set(asset, [...keep]);
    const retention = retentionOf(asset);
    if (!retention) continue;
    const cutoff = retentionCutoff(now, retention);
    const byRules = retention.keep ? keptByRules.get(asset) : undefined;
    for (const a of sorted) {
      if (keep.has(a.setId) || a.setTime.getTime() >= cutoff.getTime() || byRules?.has(a.setId)) continue;
      // Keep rules count verified sets only; one not verified yet but newer than the newest
      // verified may still be, and is kept until its verify has had its chance.
      if (retention.keep && !a.verified && (!newestVerified || a.setTime > newestVerified.setTime)) {
        awaitingVerify.push(a);
        continue;
      }
      (inUse.has(a.setId) ? keptInUse : expire).push(a);
    }
  }
  return { expire, protectedSets, keptInUse, keptByRules, awaitingVerify };
}
