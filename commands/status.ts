// `/dr status`: what is protected, how fresh its backups are, and what needs attention.
import { z } from 'zod';
import { defineCommand } from './define.js';
import { bytes, formatRetention, span, table } from './format.js';

export const status = defineCommand({
  name: 'status',
  summary: 'What is protected, newest backup per asset and its age against the RPO, unprotected volumes',
  usage: 'status',
  positionals: [],
  flags: {},
  args: z.object({}),
  access: { role: 'viewer', destructive: false },
  async run({ engine }) {
    const s = await engine.status();
    const rows = [
      [
        'ASSET',
        'KIND',
        'TIER',
        'SCHEDULE',
        'RETENTION',
        'RPO',
        'NEWEST SET',
        'AGE',
        'SIZE',
        'STATE',
        'VERIFIED',
      ],
    ];
    for (const a of s.assets) {
      const p = a.asset.policy;
      rows.push([
        a.asset.name,
        a.asset.kind === 'database' ? `${a.asset.engine} db` : 'volume',
        p.tier,
        p.protected ? (p.frequency ?? p.schedule ?? '-') : 'none',
        formatRetention(p.retention),
        span(p.rpoMs),
        a.newest?.setId ?? '-',
        span(a.newest?.ageMs),
        bytes(a.newest?.size),
        a.state === 'breach' ? 'BREACH' : a.state,
        a.newestVerified ? `${span(a.newestVerified.ageMs)} ago` : a.asset.policy.protected ? 'never' : '-',
      ]);
    }
    const lines = [`drbot status at ${s.at.toISOString()}`, '', table(rows)];
    // The states that are not self-explanatory, said once under the table when they occur.
    if (s.assets.some((a) => a.state === 'breach'))
      lines.push(
        '',
        'BREACH: no deep-verified backup within the RPO, the rule the RPO monitor alerts on; a backup followed by `verify latest --deep` (or `test`) clears it',
      );
    if (s.assets.some((a) => a.state === 'unverified'))
      lines.push('unverified: within the RPO, but the newest set has not been deep-verified yet');
    const covered = s.assets.flatMap((a) =>
      a.state === 'covered' && a.asset.kind === 'volume' ? [`${a.asset.name} → ${a.asset.dataOf}`] : [],
    );
    if (covered.length)
      lines.push(
        `covered: the data directory of a database, protected by that database's dump and never archived live (a tar of a running InnoDB or PostgreSQL data directory is not consistent); a volume labelled drbot.archive=stopped is archived too, with the database stopped: ${covered.join(', ')}`,
      );
    const stopped = s.assets.flatMap((a) =>
      a.asset.kind === 'volume' && a.asset.archiveStopped
        ? [`${a.asset.name} (stops ${a.asset.usedBy.join(', ') || 'nothing running'})`]
        : [],
    );
    if (stopped.length)
      lines.push(
        `archived with the containers that mount them stopped (drbot.archive=stopped): ${stopped.join(', ')}`,
      );
    const flagged = (await engine.policy()).flatMap((r) =>
      r.assets.filter((a) => a.problem).map((a) => `  ${a.name} (${r.tier}): ${a.problem}`),
    );
    if (flagged.length) lines.push('', 'policy problems (see /dr policy):', ...flagged);
    const open = engine.alerts().filter((a) => a.open);
    // An RPO alert is closed by the monitor's next check (or stays open while the app is down):
    // say so rather than list it as if it still held.
    const cleared = (asset: string) =>
      s.assets.some((x) => x.asset.name === asset && x.state !== 'breach' && x.state !== 'never');
    if (open.length)
      lines.push(
        '',
        'open alerts:',
        ...open.map(
          (a) =>
            `  ${a.kind === 'rpo' ? 'RPO breach' : 'missed schedule'} since ${a.since.toISOString()}: ${a.detail}${a.kind === 'rpo' && cleared(a.asset) ? ' (no longer true: the RPO monitor closes it at its next check)' : ''}`,
        ),
      );
    const dbs = s.assets.filter((a) => a.container);
    if (dbs.length)
      lines.push('', `database containers: ${dbs.map((a) => `${a.asset.name} → ${a.container}`).join(', ')}`);
    if (s.unprotected.length) {
      lines.push('', 'unprotected volumes (no tier/backup/retention labels; never backed up):');
      for (const u of s.unprotected) {
        const note = u.coveredBy ? ` — data directory of database ${u.coveredBy}, covered by its dump` : '';
        lines.push(`  ${u.volume}${u.usedBy.length ? ` (used by ${u.usedBy.join(', ')})` : ''}${note}`);
      }
    }
    if (s.invalid.length) {
      lines.push('', 'errors (fix these labels or config entries; these assets are not backed up):');
      for (const i of s.invalid) lines.push(`  ${i.kind} ${i.name}: ${i.problems.join('; ')}`);
    }
    if (s.pitr?.length) lines.push('', 'point-in-time recovery:', ...s.pitr);
    lines.push('', `targets: ${s.targets.join(', ')}`);
    if (s.lastRun)
      lines.push(
        `last run: ${s.lastRun.id} ${s.lastRun.kind} ${s.lastRun.status} at ${s.lastRun.at.toISOString()}`,
      );
    return { ok: true, text: lines.join('\n'), data: s };
  },
});
