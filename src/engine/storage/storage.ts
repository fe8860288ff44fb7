// `drbot storage`: the IAM policies, applying lifecycle rules, the rules in force, the Object Lock check.
import type { Config, S3TargetConfig } from '../../config.js';
import { describeError, toAppError } from '../../errors.js';
import type { BackupTarget, LifecycleRule } from '../../ports/backup-target.js';
import type { EngineDeps } from '../deps.js';
import { adminPolicy, type IamPolicy, runtimePolicy } from './iam-policy.js';
import { describeRule, lifecycleRulesFor, tierTransitions } from './lifecycle.js';

/** Every S3 target of the config with its target name (`s3`, `offsite-1`, …) and config key. */
export function s3Targets(config: Pick<Config, 'storage'>): Array<{
  name: string;
  key: string;
  config: S3TargetConfig;
}> {
  return [
    ...(config.storage.s3 ? [{ name: 's3', key: 'storage.s3', config: config.storage.s3 }] : []),
    ...config.storage.offsite.map((o, i) => ({
      name: `offsite-${i + 1}`,
      key: `storage.offsite.${i}`,
      config: o,
    })),
  ];
}

/** The first characters of the ids of the lifecycle rules drbot writes for one prefix. */
export function ruleIdPrefix(prefix: string): string {
  return `drbot-${prefix.replace(/^\/+|\/+$/g, '') || 'bucket'}-`;
}

/** `drbot storage policy`: for drbot's runtime credentials, or for whoever runs `storage apply`. */
export function storagePolicies(config: Pick<Config, 'storage'>): { runtime: IamPolicy; admin: IamPolicy } {
  const targets = s3Targets(config).map((t) => t.config);
  return { runtime: runtimePolicy(targets), admin: adminPolicy(targets) };
}

export interface AppliedLifecycle {
  target: string;
  location: string;
  /** The rules drbot wrote. */
  written: LifecycleRule[];
  /** The bucket's rules read back after the write (drbot's and any others). */
  inForce: LifecycleRule[];
  /** drbot's rules the read-back does not show as written. */
  missing: string[];
}

/** The comparable part of a rule (S3 may return it reordered, or without empty fields). */
function fingerprint(r: LifecycleRule): string {
  return JSON.stringify({
    id: r.id,
    prefix: r.prefix,
    tags: Object.entries(r.tags).sort(),
    transitions: [...r.transitions].sort((a, b) => a.days - b.days),
    abort: r.abortIncompleteUploadsAfterDays,
    noncurrent: r.noncurrentVersionsExpireAfterDays,
    enabled: r.enabled,
  });
}

/**
 * `drbot storage apply`: writes each S3 target's lifecycle rules (see lifecycleRulesFor) and
 * reads them back. An administrator's action: drbot's runtime credentials are denied it.
 */
export async function applyStorage(
  deps: Pick<EngineDeps, 'config' | 'targets'>,
): Promise<AppliedLifecycle[]> {
  const out: AppliedLifecycle[] = [];
  for (const s of s3Targets(deps.config)) {
    const target = deps.targets.find((t) => t.name === s.name);
    if (!target?.applyLifecycle || !target.lifecycleRules) continue;
    const idPrefix = ruleIdPrefix(s.config.prefix);
    const written = lifecycleRulesFor(deps.config, s.config, idPrefix);
    await target.applyLifecycle(written, idPrefix);
    const inForce = await target.lifecycleRules();
    const seen = new Set(inForce.map(fingerprint));
    out.push({
      target: s.name,
      location: target.location,
      written,
      inForce,
      missing: written.filter((r) => !seen.has(fingerprint(r))).map((r) => r.id),
    });
  }
  return out;
}

/** For `/dr policy`: each tier's transitions, and per S3 target its Object Lock and the rules in force. */
export async function storageLines(deps: Pick<EngineDeps, 'config' | 'targets'>): Promise<string[]> {
  const targets = s3Targets(deps.config);
  if (!targets.length) return [];
  const lines = ['', 'STORAGE (drbot storage apply writes the lifecycle rules)'];
  for (const t of tierTransitions(deps.config))
    lines.push(
      `  tier ${t.tier}: ${t.transitions.map((x) => `${x.storageClass} after ${x.days}d`).join(', ') || 'stays in its storage class'}${t.source === 'config' ? ' (config)' : ''}`,
    );
  for (const s of targets) {
    const target = deps.targets.find((x) => x.name === s.name);
    const lock = s.config.objectLock;
    lines.push(
      `  ${s.name} s3://${s.config.bucket}/${s.config.prefix}: Object Lock ${lock ? `${lock.mode}, ${lock.days ? `${lock.days} days` : "each asset's retention"}` : 'not configured'}`,
    );
    if (!target?.lifecycleRules) continue;
    try {
      const rules = await target.lifecycleRules();
      if (!rules.length) lines.push('    no lifecycle rules in force: run drbot storage apply');
      for (const r of rules) lines.push(`    ${describeRule(r)}`);
    } catch (err) {
      lines.push(`    lifecycle rules cannot be read: ${describeError(err)}`);
    }
  }
  return lines;
}

/**
 * At start: refuses (throws the target's user error) when a target is configured with Object
 * Lock and its bucket has none. A store that cannot be asked (down, unreachable) is not a
 * refusal: recovery from the other targets must still work; it comes back as a warning.
 */
export async function checkImmutability(targets: BackupTarget[]): Promise<string[]> {
  const warnings: string[] = [];
  for (const t of targets) {
    if (!t.checkImmutability) continue;
    try {
      await t.checkImmutability();
    } catch (err) {
      const e = toAppError(err);
      if (e.kind === 'user') throw e;
      warnings.push(`${t.name}: Object Lock not checked: ${describeError(e)}`);
    }
  }
  return warnings;
}
