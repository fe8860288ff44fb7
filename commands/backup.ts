// `/dr backup [asset|all]`: back up now.
import { z } from 'zod';
import { defineCommand } from './define.js';
import { bytes, span, table } from './format.js';

export const backup = defineCommand({
  name: 'backup',
  summary: 'Back up one asset or all protected assets now, to every target',
  usage: 'backup [asset|all]',
  positionals: ['target?'],
  flags: {},
  args: z.object({
    target: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'must be an asset name or all' })
      .default('all'),
  }),
  access: { role: 'operator', destructive: false },
  async run({ args, engine, requester, observer }) {
    const o = await engine.backup({ target: args.target, requester, ...(observer ? { observer } : {}) });
    const lines: string[] = [];
    if (o.status === 'succeeded') {
      lines.push(`✓ ${o.run.id} backup ${args.target}: set ${o.setId} complete`);
      lines.push(
        table([
          ['ASSET', 'FILE', 'SIZE', 'RAW', 'TIME', 'SHA256'],
          ...o.artifacts.map((a) => [a.asset, a.file, bytes(a.size), bytes(a.rawSize), span(a.ms), a.sha256]),
        ]),
      );
      lines.push(`targets: ${o.targets.join(', ')}`);
      if (o.prune?.deleted.length) lines.push(`pruned ${o.prune.deleted.length} expired artifact(s)`);
      for (const r of o.prune?.refused ?? []) lines.push(`! ${r}`);
      for (const l of o.prune?.locked ?? []) lines.push(`kept under Object Lock: ${l}`);
    } else {
      lines.push(`✗ ${o.run.id} backup ${args.target} failed; set ${o.setId} is not restorable`);
      for (const f of o.failures) lines.push(`  cause: ${f}`);
    }
    for (const s of o.skipped) lines.push(`! ${s}`);
    return { ok: o.status === 'succeeded', text: lines.join('\n'), data: o };
  },
});
