// `/dr prune --dry-run`: what retention would delete now, and what keeps the rest.
import { z } from 'zod';
import { ErrorCode, userError } from '../src/errors.js';
import { defineCommand } from './define.js';

/** The most set ids a line lists before it says how many more. */
const SHOWN = 12;
const list = (ids: string[]) =>
  ids.length > SHOWN ? `${ids.slice(0, SHOWN).join(', ')} … and ${ids.length - SHOWN} more` : ids.join(', ');

export const prune = defineCommand({
  name: 'prune',
  summary:
    'With --dry-run: what retention would delete now, per asset, and what keep rules, runs in progress and pending verifies keep',
  usage: 'prune --dry-run',
  positionals: [],
  flags: {
    'dry-run': { type: 'boolean', description: 'list what would be deleted; nothing is' },
  },
  args: z.object({ 'dry-run': z.boolean().default(false) }),
  access: { role: 'viewer', destructive: false },
  async run({ args, engine }) {
    if (!args['dry-run'])
      throw userError(
        ErrorCode.USAGE,
        'prune needs --dry-run: retention itself runs as the prune stage of every backup; `prune --dry-run` lists what the next one would delete',
      );
    const { plan, inUse, more } = await engine.planRetention();
    const byAsset = new Map<string, string[]>();
    for (const e of plan.expire) byAsset.set(e.asset, [...(byAsset.get(e.asset) ?? []), e.setId]);
    const lines: string[] = [];
    const assets = [...new Set([...byAsset.keys(), ...plan.keptByRules.keys()])].sort();
    for (const asset of assets) {
      const going = byAsset.get(asset) ?? [];
      lines.push(
        `${asset}: ${going.length ? `would delete ${going.length}: ${list(going)}` : 'nothing expired'}`,
      );
      const rules = plan.keptByRules.get(asset);
      if (rules?.size)
        lines.push(
          `  kept by keep rules: ${[...rules].map(([id, by]) => `${id} (${by.join(', ')})`).join(', ')}`,
        );
      const waiting = plan.awaitingVerify.filter((a) => a.asset === asset).map((a) => a.setId);
      if (waiting.length)
        lines.push(`  kept until verified (newer than the newest verified): ${list(waiting)}`);
      const kept = plan.protectedSets.get(asset);
      if (kept?.length) lines.push(`  always kept (newest, newest verified): ${kept.join(', ')}`);
    }
    for (const k of plan.keptInUse)
      lines.push(`${k.asset}: ${k.setId} expired but kept: ${inUse.get(k.setId)} will read it`);
    if (more.length)
      lines.push(`more expired than one prune takes for ${more.join(', ')}: the rest go at the next prune`);
    if (!lines.length) lines.push('nothing has expired');
    return { ok: true, text: ['dry run: nothing is deleted', '', ...lines].join('\n'), data: plan };
  },
});
