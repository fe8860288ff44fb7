// `/dr catalog rebuild`: rebuild the catalog from what the targets hold (after losing the host).
import { z } from 'zod';
import { defineCommand } from './define.js';
import { targetArg } from './parse.js';

export const catalog = defineCommand({
  name: 'catalog',
  summary: 'Rebuild the catalog from the targets: the newest state snapshot, then every newer set',
  usage: 'catalog rebuild [--source <target>]',
  positionals: ['action'],
  flags: {
    source: { type: 'string', description: 'read only this target (local, s3, offsite-1 …)' },
  },
  args: z.object({
    action: z.literal('rebuild', { error: 'the only action is rebuild' }),
    source: targetArg.optional(),
  }),
  access: { role: 'operator', destructive: false },
  async run({ args, engine }) {
    const r = await engine.rebuildCatalog(args.source ? { source: args.source } : {});
    const lines = [
      `catalog rebuilt from ${r.read.join(', ') || 'no target'}`,
      r.snapshot
        ? `state snapshot of ${r.snapshot.setId} (from ${r.snapshot.target}): ${r.snapshot.runs} run(s), ${r.snapshot.sets} set(s)`
        : 'no state snapshot loaded (the catalog was not empty, or no set carries one)',
      `${r.added.length} set(s) added from their manifests${r.added.length ? `: ${r.added.slice(0, 10).join(', ')}${r.added.length > 10 ? ' …' : ''}` : ''}`,
      ...(r.reconciled ? [`${r.reconciled} cop(ies) marked missing or found again on their targets`] : []),
      ...r.unreachable.map((u) => `unreachable: ${u}`),
      ...r.skipped.map((s) => `skipped: ${s}`),
    ];
    return { ok: r.read.length > 0, text: lines.join('\n'), data: r };
  },
});
