// `policy`: the tier table, the assets on each tier and schedules that cannot meet their RPO.
import { coveredByDump } from '../../domain/assets.js';
import { longestInterval } from '../../domain/cron.js';
import type { RetentionPeriod } from '../../domain/duration.js';
import { type KeepRule, type KeepRules, keptByRules } from '../../domain/keep-rules.js';
import { loadInventory } from '../catalog/inventory.js';
import type { EngineDeps } from '../deps.js';

export interface PolicyRow {
  tier: string;
  rpoMs: number | undefined;
  rtoMs: number | undefined;
  schedule: string | undefined;
  retention: RetentionPeriod;
  assets: Array<{
    name: string;
    schedule: string | undefined;
    retention: RetentionPeriod;
    /** Worst case age of the newest backup: longest gap between runs + the last run's duration. */
    worstCaseMs: number | undefined;
    /** Set when the schedule cannot meet the RPO. */
    problem: string | undefined;
    /** A database's data volume: the database whose dump protects it (it is never archived live). */
    coveredBy: string | undefined;
    /** With keep rules: per rule, the (verified) sets it keeps now, newest first. */
    keptByRule?: Partial<Record<KeepRule, string[]>>;
  }>;
}

/** The last successful backup's duration for an asset (how long the next one will likely take). */
export function lastBackupDuration(deps: EngineDeps, asset: string): number | undefined {
  const run = deps.store.lastRun({ kind: 'backup', asset, status: ['succeeded'] });
  return run?.startedAt && run.endedAt ? run.endedAt.getTime() - run.startedAt.getTime() : undefined;
}

/**
 * The effective tier table and which assets use it, with label overrides applied. A schedule
 * whose interval plus the last run's duration exceeds the RPO is flagged.
 */
export async function buildPolicy(deps: EngineDeps): Promise<PolicyRow[]> {
  const inventory = await loadInventory(deps);
  const now = deps.clock.now();
  const rows: PolicyRow[] = [];
  for (const tier of deps.config.tierMap.values()) {
    const assets = inventory.assets
      .filter((a) => a.policy.tier === tier.name)
      .map((a) => {
        if (coveredByDump(a))
          return {
            name: a.name,
            schedule: undefined,
            retention: a.policy.retention,
            worstCaseMs: undefined,
            problem: undefined,
            coveredBy: a.dataOf,
          };
        const schedule = a.policy.schedule;
        const worst = schedule
          ? longestInterval(schedule, now) + (lastBackupDuration(deps, a.name) ?? 0)
          : undefined;
        const problem =
          tier.rpoMs !== undefined && (schedule === undefined || (worst !== undefined && worst > tier.rpoMs))
            ? schedule === undefined
              ? 'not backed up, but its tier has an RPO'
              : 'schedule interval + last backup duration exceeds the RPO'
            : undefined;
        const keep = a.policy.retention.keep;
        return {
          name: a.name,
          schedule,
          retention: a.policy.retention,
          worstCaseMs: worst,
          problem,
          coveredBy: undefined,
          ...(keep ? { keptByRule: setsPerRule(deps, a.name, keep) } : {}),
        };
      });
    rows.push({
      tier: tier.name,
      rpoMs: tier.rpoMs,
      rtoMs: tier.rtoMs,
      schedule: tier.schedule,
      retention: tier.retention,
      assets,
    });
  }
  return rows;
}

/** Per keep rule, the sets it keeps of `asset` now (a few index reads per rule). */
function setsPerRule(deps: EngineDeps, asset: string, rules: KeepRules): Partial<Record<KeepRule, string[]>> {
  const out: Partial<Record<KeepRule, string[]>> = {};
  for (const [setId, by] of keptByRules(rules, (before) => deps.store.olderVerified(asset, before)))
    for (const rule of by) out[rule] = [...(out[rule] ?? []), setId];
  return out;
}
