import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../../src/config.js';
import {
  describeRule,
  lifecycleRulesFor,
  tierTransitions,
} from '../../../../src/engine/storage/lifecycle.js';
import { ruleIdPrefix } from '../../../../src/engine/storage/storage.js';

describe('tier transitions', () => {
  it("defaults to GLACIER after 30 days and DEEP_ARCHIVE after 90 for tiers whose retention outlasts S3's minimum storage", () => {
    const config = buildConfig({});

    const byTier = Object.fromEntries(tierTransitions(config).map((t) => [t.tier, t]));

    const both = [
      { days: 30, storageClass: 'GLACIER' },
      { days: 90, storageClass: 'DEEP_ARCHIVE' },
    ];
    expect(byTier.critical?.transitions).toEqual(both); // 7 years
    expect(byTier.important?.transitions).toEqual(both); // 1 year ≥ 90 + 180 days
    expect(byTier.logs?.transitions).toEqual([]); // 90 days: GLACIER would be billed for 120
    expect(byTier.logs?.skipped).toEqual([
      "GLACIER after 30 days: sets are kept 90 days, less than 120 (30 + S3's 90-day minimum)",
      "DEEP_ARCHIVE after 90 days: sets are kept 90 days, less than 270 (90 + S3's 180-day minimum)",
    ]);
    expect(byTier.temporary?.transitions).toEqual([]); // not backed up
  });

  it("takes a tier's transitions key as it is, [] meaning none", () => {
    const config = buildConfig({
      tiers: {
        critical: { retention: '7years', transitions: [] },
        bulk: { retention: '30days', transitions: [{ days: 7, storageClass: 'GLACIER_IR' }] },
      },
    });

    const byTier = Object.fromEntries(tierTransitions(config).map((t) => [t.tier, t]));

    expect(byTier.critical).toEqual({ tier: 'critical', transitions: [], source: 'config', skipped: [] });
    expect(byTier.bulk?.transitions).toEqual([{ days: 7, storageClass: 'GLACIER_IR' }]);
  });

  it('refuses a transition to a class S3 cannot transition to, naming what is allowed', () => {
    expect(() =>
      buildConfig({ tiers: { critical: { transitions: [{ days: 30, storageClass: 'STANDARD' }] } } }),
    ).toThrow(/tiers\.critical\.transitions\.0\.storageClass: "STANDARD" — .*STANDARD_IA.*DEEP_ARCHIVE/);
  });
});

describe('lifecycleRulesFor', () => {
  it('writes one rule per tier on the tier and artifact tags, and a prefix-wide rule for stale uploads', () => {
    const config = buildConfig({});

    const rules = lifecycleRulesFor(config, { prefix: '/drbot/' }, ruleIdPrefix('drbot'));

    expect(rules.map((r) => r.id)).toEqual([
      'drbot-drbot-tier-critical',
      'drbot-drbot-tier-important',
      'drbot-drbot-housekeeping',
    ]);
    expect(rules[0]).toMatchObject({
      prefix: 'drbot/',
      tags: { 'drbot-tier': 'critical', 'drbot-kind': 'artifact' },
      enabled: true,
    });
    expect(rules[2]).toEqual({
      id: 'drbot-drbot-housekeeping',
      prefix: 'drbot/',
      tags: {},
      transitions: [],
      abortIncompleteUploadsAfterDays: 1,
      enabled: true,
    });
    expect(describeRule(rules[0] as never)).toBe(
      'drbot-drbot-tier-critical: drbot/ [drbot-tier=critical,drbot-kind=artifact] → GLACIER after 30d; → DEEP_ARCHIVE after 90d',
    );
  });

  it('with Object Lock, lets the bucket remove the versions drbot deleted once they are unlocked', () => {
    const rules = lifecycleRulesFor(
      buildConfig({}),
      { prefix: '', objectLock: { mode: 'compliance' } },
      'drbot-bucket-',
    );

    const housekeeping = rules.find((r) => r.id === 'drbot-bucket-housekeeping');

    expect(housekeeping?.prefix).toBe('');
    expect(housekeeping?.noncurrentVersionsExpireAfterDays).toBe(1);
  });
});
