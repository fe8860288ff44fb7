// Retention: deletes expired artifacts from every target, never an asset's last good backup.

import { retentionCutoff } from '../../domain/duration.js';
import { type KeepRule, keptByRules } from '../../domain/keep-rules.js';
import { artifactKey, setDirectory } from '../../domain/layout.js';
import { type PrunePlan, planPrune, type RetainedArtifact } from '../../domain/retention.js';
import { describeError, ErrorCode, externalError } from '../../errors.js';
import type { SetRecord } from '../../ports/state-store.js';
import type { EngineDeps } from '../deps.js';
import type { RunContext } from '../runs/run-context.js';
import { lockedCopies } from '../storage/locks.js';
import { loadInventory } from './inventory.js';
import { buildManifest, MANIFEST_FILE, readManifest, writeManifest } from './manifest.js';

export interface PruneReport {
  deleted: Array<{ setId: string; asset: string }>;
  /** Assets whose prune was refused, with why. */
  refused: string[];
  errors: string[];
  /** Expired artifacts kept because a target still holds them under Object Lock, with when they become deletable. */
  locked?: string[];
}

/**
 * Applies retention on every target. Before deleting anything of an asset, the artifact that
 * will remain as its newest good backup is checked to exist on every target; if it does not,
 * the prune for that asset is refused and reported (it would leave the asset with nothing).
 */
export async function pruneExpired(deps: EngineDeps, ctx: RunContext): Promise<PruneReport> {
  const { store, clock, targets } = deps;
  const { plan, inUse, more } = await planRetention(deps);
  const sets = new Map<string, SetRecord | undefined>();
  const setById = {
    get: (id: string) => {
      if (!sets.has(id)) sets.set(id, store.getSet(id));
      return sets.get(id);
    },
  };
  const report: PruneReport = { deleted: [], refused: [], errors: [] };
  for (const setId of new Set(plan.keptInUse.map((k) => k.setId)))
    ctx.info(`kept ${setId} although expired: ${inUse.get(setId)} will read it`, { setId }, 'prune');
  if (more.length)
    ctx.info(
      `more expired artifacts of ${more.join(', ')} than one prune takes (${PRUNE_BATCH} per asset): the rest go at the next`,
      { assets: more },
      'prune',
    );
  if (!plan.expire.length) {
    ctx.info('nothing has expired');
    return report;
  }

  const assets = [...new Set(plan.expire.map((e) => e.asset))];
  const allowed = new Set<string>();
  for (const asset of assets) {
    const missing = await missingKeptCopies(deps, setById, plan.protectedSets.get(asset) ?? [], asset);
    if (missing.length) {
      const msg = `prune of ${asset} refused: it would leave no good backup (${missing.join('; ')})`;
      report.refused.push(msg);
      ctx.error(msg, { asset, code: ErrorCode.PRUNE_REFUSED }, 'prune');
    } else {
      allowed.add(asset);
    }
  }

  const touchedSets = new Set<string>();
  for (const e of plan.expire.filter((x) => allowed.has(x.asset))) {
    const set = setById.get(e.setId) as SetRecord;
    const artifact = set.artifacts.find((a) => a.asset === e.asset && a.status === 'complete');
    if (!artifact) continue;
    const key = artifactKey(set.id, set.createdAt, artifact.file);
    // Object Lock: a locked copy is never deleted early; the artifact stays, and says until when.
    const lock = await lockedCopies(targets, key, clock.now());
    report.errors.push(...lock.errors);
    if (lock.locked.length || lock.errors.length) {
      if (lock.locked.length) {
        const line = `${set.id}/${artifact.file}: locked on ${lock.locked.join(', ')}; deletable from ${lock.deletableAt?.toISOString()}`;
        report.locked = [...(report.locked ?? []), line];
        ctx.info(`kept ${line}`, { setId: set.id, asset: e.asset }, 'prune');
      }
      continue;
    }
    let ok = true;
    for (const t of targets) {
      try {
        await t.delete(key);
        store.setLocation(artifact.id, { target: t.name, key, status: 'deleted', confirmedAt: undefined });
      } catch (err) {
        ok = false;
        report.errors.push(`${t.name}: ${describeError(err)}`);
      }
    }
    if (ok) {
      store.updateArtifact(artifact.id, { status: 'pruned', prunedAt: clock.now() });
      report.deleted.push({ setId: set.id, asset: e.asset });
      touchedSets.add(set.id);
    }
  }

  // A set's manifest must describe what is left: rewrite it, or remove the set when empty.
  for (const setId of touchedSets) {
    const set = store.getSet(setId) as SetRecord;
    const dir = setDirectory(set.id, set.createdAt);
    const remaining = set.artifacts.filter((a) => a.status === 'complete');
    for (const t of targets) {
      try {
        if (remaining.length) {
          // The host spec and state reference stay: the set still describes its host.
          const prior = await readManifest(t, dir).catch(() => undefined);
          const description = {
            ...(prior?.hostSpec ? { hostSpec: prior.hostSpec } : {}),
            ...(prior?.state ? { state: prior.state } : {}),
          };
          await writeManifest(t, set, buildManifest(set, set.completedAt, description));
        } else {
          // The manifest goes last, as it came last: until then the set still describes itself.
          const keys = await t.list(`${dir}/`);
          for (const k of keys.filter((k) => !k.endsWith(`/${MANIFEST_FILE}`))) await t.delete(k);
          await t.delete(`${dir}/${MANIFEST_FILE}`);
        }
      } catch (err) {
        report.errors.push(`${t.name}: ${describeError(err)}`);
      }
    }
    if (!remaining.length) store.updateSet(setId, { status: 'pruned' });
  }
  ctx.info(
    `pruned ${report.deleted.length} expired artifact(s)${report.refused.length ? `, refused ${report.refused.length}` : ''}`,
    {
      deleted: report.deleted,
    },
    'prune',
  );
  if (report.errors.length) {
    throw externalError(
      ErrorCode.S3_FAILED,
      `prune could not delete everything: ${report.errors.join(' | ')}`,
      { step: 'prune' },
    );
  }
  return report;
}

/** The most expired artifacts of one asset a single prune takes (the rest wait for the next). */
export const PRUNE_BATCH = 5000;

export interface RetentionPlan {
  plan: PrunePlan;
  /** Sets that runs in progress or waiting will read, with which run. */
  inUse: Map<string, string>;
  /** Assets with more expired artifacts than one prune takes. */
  more: string[];
}

/**
 * What retention would delete now, without deleting anything. Reads, per asset still backed
 * up, only its artifacts older than its retention (oldest first, at most PRUNE_BATCH) and its
 * newest and newest deep-verified sets, which are always kept: never the whole catalog.
 */
export async function planRetention(deps: EngineDeps): Promise<RetentionPlan> {
  const { store, clock } = deps;
  const now = clock.now();
  const inventory = await loadInventory(deps);
  // Only assets still backed up expire: one that became `backup=none` gets no new sets, so its
  // history is all that is left of it (retention unknown = keep everything).
  const retentionByAsset = new Map(
    inventory.assets.filter((a) => a.policy.protected).map((a) => [a.name, a.policy.retention]),
  );
  const newest = store.newestSets();
  const newestVerified = store.newestSets({ deepVerified: true });
  const retained: RetainedArtifact[] = [];
  const more: string[] = [];
  for (const [asset, retention] of retentionByAsset) {
    const expired = store.artifactsBefore(asset, retentionCutoff(now, retention), PRUNE_BATCH + 1);
    if (!expired.length) continue;
    if (expired.length > PRUNE_BATCH) {
      expired.length = PRUNE_BATCH;
      more.push(asset);
    }
    const seen = new Set<string>();
    for (const a of expired) {
      seen.add(a.setId);
      retained.push({ setId: a.setId, asset, setTime: a.setTime, verified: a.deepVerified });
    }
    // The sets retention always keeps take part in the plan so that it knows to keep them.
    for (const set of [newest.get(asset), newestVerified.get(asset)]) {
      if (!set || seen.has(set.id)) continue;
      seen.add(set.id);
      const artifact = set.artifacts.find((a) => a.asset === asset && a.status === 'complete');
      retained.push({
        setId: set.id,
        asset,
        setTime: set.createdAt,
        verified: artifact?.deepVerifiedAt !== undefined,
      });
    }
  }
  // Keep rules jump from bucket to bucket down the verified sets: a few index reads per rule.
  const byRules = new Map<string, Map<string, KeepRule[]>>();
  for (const [asset, retention] of retentionByAsset)
    if (retention.keep)
      byRules.set(
        asset,
        keptByRules(retention.keep, (before) => store.olderVerified(asset, before)),
      );
  const inUse = setsInUse(deps);
  const plan = planPrune(
    now,
    retained,
    (asset) => retentionByAsset.get(asset),
    new Set(inUse.keys()),
    byRules,
  );
  return { plan, inUse, more };
}

/**
 * Sets that runs still waiting or working are about to read, with who: the sets of a restore's
 * plan (or its `--from`), the snapshot an undo puts back, the set a verify checks. A restore
 * waiting for approval can wait as long as `approvalTimeout`; its set must still be there then.
 */
export function setsInUse(deps: Pick<EngineDeps, 'store'>): Map<string, string> {
  const used = new Map<string, string>();
  for (const { run } of deps.store.activeRuns()) {
    const by = `${run.id} (${run.kind} ${run.target}, ${run.status})`;
    const ids: string[] = [];
    if (run.kind === 'restore' || run.kind === 'undo') {
      ids.push(...(run.result.plan?.assets.map((a) => a.setId) ?? []));
      const from = /--from (\S+)/.exec(run.target)?.[1];
      if (from) ids.push(from);
    } else if (run.kind === 'verify') {
      ids.push(run.target, ...(run.result.setIds ?? []));
    }
    for (const id of ids) if (!used.has(id)) used.set(id, by);
  }
  return used;
}

/** The kept artifacts of an asset that are not present on some target. */
async function missingKeptCopies(
  deps: EngineDeps,
  setById: { get(id: string): SetRecord | undefined },
  keptSetIds: string[],
  asset: string,
): Promise<string[]> {
  const missing: string[] = [];
  let anyComplete = false;
  for (const setId of keptSetIds) {
    const set = setById.get(setId);
    const artifact = set?.artifacts.find((a) => a.asset === asset);
    if (!set || !artifact) continue;
    const dir = setDirectory(set.id, set.createdAt);
    let presentEverywhere = true;
    for (const t of deps.targets) {
      const keys = await t.list(`${dir}/`);
      if (!keys.includes(`${dir}/${artifact.file}`)) {
        presentEverywhere = false;
        missing.push(`${set.id}/${artifact.file} is missing on ${t.name}`);
      }
    }
    if (presentEverywhere) anyComplete = true;
  }
  return anyComplete ? [] : missing;
}
