import { describe, expect, it } from 'vitest';
import { buildPolicy } from '../../../../src/engine/report/policy.js';
import { HOUR, MINUTE, recordBackupRun, reportDeps } from '../../../fixtures/report-deps.js';

describe('buildPolicy on the default tiers', () => {
  it('flags no asset whose schedule is its tier’s own, nor a daily-labelled important volume', async () => {
    const now = new Date('2026-03-10T12:00:00Z');
    const { deps, store } = reportDeps(
      {
        uploads: { tier: 'important' },
        'uploads-daily': { tier: 'important', backup: 'daily' },
        'app-logs': { tier: 'logs' },
        'app-data': { tier: 'critical' },
      },
      now,
    );
    recordBackupRun(store, ['uploads', 'uploads-daily', 'app-logs'], now, 40 * MINUTE);
    recordBackupRun(store, ['app-data'], now, 3 * MINUTE);

    const rows = await buildPolicy(deps);

    const problems = rows.flatMap((r) =>
      r.assets.filter((a) => a.problem).map((a) => `${a.name}: ${a.problem}`),
    );
    expect(problems).toEqual([]);
    const uploads = rows.find((r) => r.tier === 'important')?.assets.find((a) => a.name === 'uploads');
    expect(uploads?.worstCaseMs).toBe(24 * HOUR + 40 * MINUTE);
  });

  it('still flags a schedule that cannot meet the RPO: a weekly label on an important volume', async () => {
    const now = new Date('2026-03-10T12:00:00Z');
    const { deps } = reportDeps({ 'config-data': { tier: 'important', backup: 'weekly' } }, now);

    const rows = await buildPolicy(deps);

    const asset = rows.find((r) => r.tier === 'important')?.assets[0];
    expect(asset?.problem).toBe('schedule interval + last backup duration exceeds the RPO');
  });
});
