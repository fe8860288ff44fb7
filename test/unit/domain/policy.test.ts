import { describe, expect, it } from 'vitest';
import { FREQUENCY_SCHEDULES, type LabelReading, readPolicyLabels } from '../../../src/domain/policy.js';
import { aTier, defaultTiers } from '../../fixtures/builders.js';

function problemsOf(reading: LabelReading): string[] {
  if (reading.ok) throw new Error(`expected problems, got policy ${JSON.stringify(reading.policy)}`);
  return reading.problems;
}

function policyOf(reading: LabelReading) {
  if (!reading.ok) throw new Error(`expected a policy, got problems: ${reading.problems.join('; ')}`);
  return reading.policy;
}

describe('readPolicyLabels', () => {
  const tiers = defaultTiers();

  it('takes schedule, retention, RPO and RTO from the tier when only the tier is given', () => {
    const reading = readPolicyLabels({ tier: 'critical' }, tiers);

    expect(policyOf(reading)).toEqual({
      tier: 'critical',
      schedule: '*/10 * * * *',
      frequency: undefined,
      retention: { count: 7, unit: 'year' },
      rpoMs: 15 * 60_000,
      rtoMs: 60 * 60_000,
      protected: true,
    });
  });

  it('names the missing tier label and lists the configured tiers', () => {
    const reading = readPolicyLabels({ backup: 'daily' }, tiers);

    expect(problemsOf(reading)).toEqual([
      'label tier is missing (allowed: critical, important, logs, temporary)',
    ]);
  });

  it('names an unknown tier and lists the configured tiers', () => {
    const reading = readPolicyLabels({ tier: 'gold' }, tiers);

    expect(problemsOf(reading)).toEqual([
      "label tier='gold' is not a configured tier (allowed: critical, important, logs, temporary)",
    ]);
  });

  it('lists the tiers actually configured, not a fixed set', () => {
    const custom = new Map([['bronze', aTier('bronze')]]);

    const reading = readPolicyLabels({ tier: 'critical' }, custom);

    expect(problemsOf(reading)).toEqual(["label tier='critical' is not a configured tier (allowed: bronze)"]);
  });

  it.each(Object.entries(FREQUENCY_SCHEDULES))(
    'backup=%s overrides the tier schedule with %s',
    (frequency, cron) => {
      const reading = readPolicyLabels({ tier: 'important', backup: frequency }, tiers);

      const policy = policyOf(reading);
      expect(policy.schedule).toBe(cron);
      expect(policy.frequency).toBe(frequency);
      expect(policy.protected).toBe(true);
    },
  );

  it('maps the backup frequencies to distinct cron expressions', () => {
    const crons = Object.values(FREQUENCY_SCHEDULES);

    expect(new Set(crons).size).toBe(crons.length);
    expect(FREQUENCY_SCHEDULES.daily).toBe('0 2 * * *');
    expect(FREQUENCY_SCHEDULES.hourly).toBe('0 * * * *');
  });

  it('backup=none excludes the asset even in a tier that has a schedule', () => {
    const reading = readPolicyLabels({ tier: 'critical', backup: 'none' }, tiers);

    const policy = policyOf(reading);
    expect(policy.schedule).toBeUndefined();
    expect(policy.frequency).toBe('none');
    expect(policy.protected).toBe(false);
    expect(policy.tier).toBe('critical');
  });

  it('a tier without a schedule leaves the asset unprotected', () => {
    const reading = readPolicyLabels({ tier: 'temporary' }, tiers);

    const policy = policyOf(reading);
    expect(policy.schedule).toBeUndefined();
    expect(policy.protected).toBe(false);
  });

  it('a backup label gives a schedule to an asset whose tier has none', () => {
    const reading = readPolicyLabels({ tier: 'temporary', backup: 'weekly' }, tiers);

    const policy = policyOf(reading);
    expect(policy.schedule).toBe(FREQUENCY_SCHEDULES.weekly);
    expect(policy.protected).toBe(true);
  });

  it.each(['Daily', 'nightly', '', 'yes'])(
    'rejects backup=%j, naming the value and the allowed ones',
    (value) => {
      const reading = readPolicyLabels({ tier: 'important', backup: value }, tiers);

      expect(problemsOf(reading)).toEqual([
        `label backup='${value}' is not allowed (allowed: realtime, hourly, daily, weekly, none)`,
      ]);
    },
  );

  it('a retention label overrides the tier retention', () => {
    const reading = readPolicyLabels({ tier: 'critical', retention: '90days' }, tiers);

    expect(policyOf(reading).retention).toEqual({ count: 90, unit: 'day' });
  });

  it('rejects a malformed retention, naming the value and the accepted format', () => {
    const reading = readPolicyLabels({ tier: 'critical', retention: 'forever' }, tiers);

    const problems = problemsOf(reading);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("label retention='forever' is not a retention");
    expect(problems[0]).toContain('allowed: <n><unit> with unit d|day(s), w|week(s), m|month(s), y|year(s)');
  });

  it('reports every problem at once', () => {
    const reading = readPolicyLabels({ tier: 'gold', backup: 'sometimes', retention: 'long' }, tiers);

    const problems = problemsOf(reading);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toContain("tier='gold'");
    expect(problems[1]).toContain("backup='sometimes'");
    expect(problems[2]).toContain("retention='long'");
  });

  it('ignores labels that are not policy labels', () => {
    const reading = readPolicyLabels({ tier: 'logs', 'com.example.owner': 'team-a' }, tiers);

    expect(policyOf(reading).tier).toBe('logs');
  });
});
