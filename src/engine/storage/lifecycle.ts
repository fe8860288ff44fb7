// The lifecycle rules drbot asks of an S3 bucket: per-tier transitions, aborting stale uploads.
import type { Config, S3TargetConfig } from '../../config.js';
import { type RetentionPeriod, retentionCutoff } from '../../domain/duration.js';
import type { LifecycleRule } from '../../ports/backup-target.js';

/** The seed's transitions (the team's runbook: "Glacier after 30 days"; DEEP_ARCHIVE after 90). */
export const DEFAULT_TRANSITIONS = [
  { days: 30, storageClass: 'GLACIER' },
  { days: 90, storageClass: 'DEEP_ARCHIVE' },
] as const;

/**
 * S3 bills an object moved to these classes for at least this many days there: a transition is
 * a default only for tiers that keep their sets at least that long after it (else every set
 * would be billed for days it no longer exists, and cost more than it saves).
 */
export const MINIMUM_STORAGE_DAYS: Record<string, number> = {
  STANDARD_IA: 30,
  ONEZONE_IA: 30,
  INTELLIGENT_TIERING: 0,
  GLACIER_IR: 90,
  GLACIER: 90,
  DEEP_ARCHIVE: 180,
};

/** Open multipart uploads older than this are aborted by the bucket itself (a killed process's parts). */
export const ABORT_INCOMPLETE_UPLOADS_DAYS = 1;
/** With Object Lock, versions drbot deleted (now under a delete marker) go once unlocked, this long after. */
export const NONCURRENT_VERSION_DAYS = 1;

const DAY_MS = 24 * 60 * 60_000;

/** A retention period in days (at its longest: months and years counted back from a fixed date). */
function daysOf(period: RetentionPeriod): number {
  const at = new Date(Date.UTC(2024, 11, 31));
  return Math.floor((at.getTime() - retentionCutoff(at, period).getTime()) / DAY_MS);
}

export interface TierTransitions {
  tier: string;
  transitions: Array<{ days: number; storageClass: string }>;
  /** `config` when the tier's `transitions` key says, `default` when drbot chose. */
  source: 'config' | 'default';
  /** Default transitions left out, and why. */
  skipped: string[];
}

/**
 * Each configured tier's transitions: its `transitions` key when set (`[]`: none), else the
 * defaults its retention allows (a tier that is not backed up gets none).
 */
export function tierTransitions(config: Pick<Config, 'tiers' | 'tierMap'>): TierTransitions[] {
  return Object.entries(config.tiers).map(([tier, raw]) => {
    if (raw.transitions) return { tier, transitions: [...raw.transitions], source: 'config', skipped: [] };
    const retention = config.tierMap.get(tier)?.retention;
    const kept = retention ? daysOf(retention) : 0;
    const transitions: TierTransitions['transitions'] = [];
    const skipped: string[] = [];
    if (raw.backup === 'none') return { tier, transitions, source: 'default', skipped };
    for (const t of DEFAULT_TRANSITIONS) {
      const needs = t.days + (MINIMUM_STORAGE_DAYS[t.storageClass] ?? 0);
      if (kept >= needs) transitions.push({ ...t });
      else
        skipped.push(
          `${t.storageClass} after ${t.days} days: sets are kept ${kept} days, less than ${needs} (${t.days} + S3's ${MINIMUM_STORAGE_DAYS[t.storageClass]}-day minimum)`,
        );
    }
    return { tier, transitions, source: 'default', skipped };
  });
}

/**
 * The rules of one S3 target: per tier with transitions, its artifacts (tags `drbot-tier` and
 * `drbot-kind=artifact`; manifests and SHA256SUMS stay readable for `catalog rebuild`) move to
 * the tier's classes; one prefix-wide rule aborts uploads left open for a day and, with Object
 * Lock, removes the versions drbot deleted once their lock ends (drbot itself may not delete
 * versions). Ids start with `idPrefix`, which the target uses to keep the bucket's other rules.
 */
export function lifecycleRulesFor(
  config: Pick<Config, 'tiers' | 'tierMap'>,
  target: Pick<S3TargetConfig, 'prefix' | 'objectLock'>,
  idPrefix: string,
): LifecycleRule[] {
  const prefix = target.prefix.replace(/^\/+|\/+$/g, '');
  const keyPrefix = prefix ? `${prefix}/` : '';
  const rules: LifecycleRule[] = tierTransitions(config)
    .filter((t) => t.transitions.length)
    .map((t) => ({
      id: `${idPrefix}tier-${t.tier}`,
      prefix: keyPrefix,
      tags: { 'drbot-tier': t.tier, 'drbot-kind': 'artifact' },
      transitions: t.transitions,
      enabled: true,
    }));
  rules.push({
    id: `${idPrefix}housekeeping`,
    prefix: keyPrefix,
    tags: {},
    transitions: [],
    abortIncompleteUploadsAfterDays: ABORT_INCOMPLETE_UPLOADS_DAYS,
    ...(target.objectLock ? { noncurrentVersionsExpireAfterDays: NONCURRENT_VERSION_DAYS } : {}),
    enabled: true,
  });
  return rules;
}

/** One line per rule, for `/dr policy` and `drbot storage apply`. */
export function describeRule(rule: LifecycleRule): string {
  const what: string[] = [];
  for (const t of rule.transitions) what.push(`→ ${t.storageClass} after ${t.days}d`);
  if (rule.abortIncompleteUploadsAfterDays !== undefined)
    what.push(`abort incomplete uploads after ${rule.abortIncompleteUploadsAfterDays}d`);
  if (rule.noncurrentVersionsExpireAfterDays !== undefined)
    what.push(`deleted versions go ${rule.noncurrentVersionsExpireAfterDays}d after (once unlocked)`);
  const tags = Object.entries(rule.tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${rule.id}${rule.enabled ? '' : ' (disabled)'}: ${rule.prefix || '(whole bucket)'}${tags ? ` [${tags}]` : ''} ${what.join('; ') || '(no action drbot knows)'}`;
}
