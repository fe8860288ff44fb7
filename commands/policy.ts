// `/dr policy`: the effective tier table and the schedules that cannot meet their RPO.
import { z } from 'zod';
import { defineCommand } from './define.js';
import { formatRetention, span, table } from './format.js';

export const policy = defineCommand({
  name: 'policy',
  summary:
    'The effective tier table (RPO, RTO, schedule, retention), the assets on each, and schedules that cannot meet their RPO',
  usage: 'policy',
  positionals: [],
  flags: {},
  args: z.object({}),
  access: { role: 'viewer', destructive: false },
  async run({ engine }) {
    const rows = await engine.policy();
    const lines = [
      table([
        ['TIER', 'RPO', 'RTO', 'SCHEDULE', 'RETENTION', 'ASSETS'],
        ...rows.map((r) => [
          r.tier,
          span(r.rpoMs),
          span(r.rtoMs),
          r.schedule ?? 'none',
          formatRetention(r.retention),
          String(r.assets.length),
        ]),
      ]),
    ];
    const assets = rows.flatMap((r) => r.assets.map((a) => ({ ...a, tier: r.tier })));
    if (assets.length) {
      lines.push(
        '',
        table([
          ['ASSET', 'TIER', 'SCHEDULE', 'RETENTION', 'WORST CASE AGE', 'RPO CHECK'],
          ...assets.map((a) => [
            a.name,
            a.tier,
            a.schedule ?? 'none',
            formatRetention(a.retention),
            span(a.worstCaseMs),
            a.coveredBy
              ? `covered by the dump of ${a.coveredBy}`
              : a.problem
                ? `FLAGGED: ${a.problem}`
                : 'ok',
          ]),
        ]),
      );
    }
    for (const a of assets.filter((x) => x.keptByRule)) {
      lines.push('', `keep rules of ${a.name} (${formatRetention(a.retention)}), verified sets only:`);
      for (const [rule, sets] of Object.entries(a.keptByRule ?? {}))
        lines.push(`  ${rule.padEnd(8)} ${sets.length ? sets.join(', ') : '(none yet)'}`);
    }
    if (assets.some((a) => a.coveredBy))
      lines.push(
        '',
        "covered: a database's data volume is protected by that database's dump and never archived live (a tar of a running InnoDB or PostgreSQL data directory is not consistent); label it drbot.archive=stopped to archive it too, with the database stopped",
      );
    const pitr = await engine.pitrPolicy();
    if (pitr.length) lines.push('', ...pitr);
    lines.push(...(await engine.storagePolicyLines())); // tier transitions, Object Lock, lifecycle in force
    return { ok: true, text: lines.join('\n'), data: rows };
  },
});
