// Tiers and labels → the policy of one asset, and the RPO rule every report and alert applies.
import { parseRetention, RETENTION_FORMAT, type RetentionPeriod } from './duration.js';

/** Values of the `backup` label (DESIGN §1). */
export const BACKUP_FREQUENCIES = ['realtime', 'hourly', 'daily', 'weekly', 'none'] as const;
export type BackupFrequency = (typeof BACKUP_FREQUENCIES)[number];

/** The cron expression each `backup` label value stands for. */
export const FREQUENCY_SCHEDULES: Record<Exclude<BackupFrequency, 'none'>, string> = {
  // `realtime` is every 5 minutes until continuous log archiving exists.
  realtime: '*/5 * * * *',
  hourly: '0 * * * *',
  daily: '0 2 * * *',
  weekly: '0 3 * * 0',
};

/** A tier as configured (durations already parsed). */
export interface Tier {
  name: string;
  rpoMs: number | undefined;
  rtoMs: number | undefined;
  /** Cron expression, or undefined when the tier is not backed up. */
  schedule: string | undefined;
  retention: RetentionPeriod;
  /** Point-in-time recovery: the longest a database's log may stay un-archived (tier key `pitr`). */
  pitrMs?: number;
}

/** The policy that applies to one asset after labels override the tier. */
export interface EffectivePolicy {
  tier: string;
  schedule: string | undefined;
  frequency: BackupFrequency | undefined;
  retention: RetentionPeriod;
  rpoMs: number | undefined;
  rtoMs: number | undefined;
  /** Backed up at all (false for `backup=none` or a tier without schedule). */
  protected: boolean;
  /** Its tier's `pitr` interval: databases get continuous log archiving (DESIGN §11). */
  pitrMs?: number;
}

/** The result of reading an asset's labels: a policy, or what is wrong with them. */
export type LabelReading = { ok: true; policy: EffectivePolicy } | { ok: false; problems: string[] };

/**
 * Reads `tier`, `backup` and `retention` labels against the configured tiers. Every problem
 * is named with the bad value and what is allowed.
 */
export function readPolicyLabels(
  labels: Record<string, string>,
  tiers: ReadonlyMap<string, Tier>,
): LabelReading {
  const problems: string[] = [];
  const tierName = labels.tier;
  const tier = tierName === undefined ? undefined : tiers.get(tierName);
  if (tierName === undefined)
    problems.push(`label tier is missing (allowed: ${[...tiers.keys()].join(', ')})`);
  else if (!tier)
    problems.push(
      `label tier='${tierName}' is not a configured tier (allowed: ${[...tiers.keys()].join(', ')})`,
    );

  let frequency: BackupFrequency | undefined;
  const backup = labels.backup;
  if (backup !== undefined) {
    if ((BACKUP_FREQUENCIES as readonly string[]).includes(backup)) frequency = backup as BackupFrequency;
    else problems.push(`label backup='${backup}' is not allowed (allowed: ${BACKUP_FREQUENCIES.join(', ')})`);
  }

  let retention: RetentionPeriod | undefined = tier?.retention;
  if (labels.retention !== undefined) {
    retention = parseRetention(labels.retention);
    if (!retention)
      problems.push(
        `label retention='${labels.retention}' is not a retention (allowed: ${RETENTION_FORMAT})`,
      );
  }

  if (problems.length > 0 || !tier || !retention) return { ok: false, problems };

  const schedule =
    frequency === undefined
      ? tier.schedule
      : frequency === 'none'
        ? undefined
        : FREQUENCY_SCHEDULES[frequency];
  return {
    ok: true,
    policy: {
      tier: tier.name,
      schedule,
      frequency,
      retention,
      rpoMs: tier.rpoMs,
      rtoMs: tier.rtoMs,
      protected: schedule !== undefined,
      ...(tier.pitrMs !== undefined ? { pitrMs: tier.pitrMs } : {}),
    },
  };
}

/**
 * The RPO rule (DESIGN §6): an asset meets its RPO while its newest *verified* backup (proven
 * restorable by a deep verify, not merely uploaded) is no older than the RPO. The RPO monitor
 * alerts on it and `status` shows it, so the state column and the alert never disagree.
 */
export function rpoBreached(rpoMs: number, newestVerifiedAt: Date | undefined, now: Date): boolean {
  return newestVerifiedAt === undefined || now.getTime() - newestVerifiedAt.getTime() > rpoMs;
}
