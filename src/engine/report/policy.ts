// `policy`: the tier table, the assets on each tier and schedules that cannot meet their RPO.
import { coveredByDump } from '../../domain/assets.js';
import { longestInterval } from '../../domain/cron.js';
import type { RetentionPeriod } from '../../domain/duration.js';
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
        return {
          name: a.name,
          schedule,
          retention: a.policy.retention,
          worstCaseMs: worst,
          problem,
          coveredBy: undefined,
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
