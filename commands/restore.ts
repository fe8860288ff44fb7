import { z } from 'zod';
import { parseScope } from '../src/domain/restore-plan.js';
import { defineCommand } from './define.js';
import { restoreText } from './restore-format.js';

export const restore = defineCommand({
  name: 'restore',
  summary:
    'Disaster recovery: assess → approve → verify → restore (after a safety snapshot) → resume → postmortem',
  usage: 'restore full|db-only|<asset> [--from <set-id>] [--yes]',
  positionals: ['target'],
  flags: {
    from: { type: 'string', description: 'restore from this set instead of the newest complete one' },
    yes: { type: 'boolean', description: 'approve the plan (command line and terminal only)' },
  },
  args: z.object({
    target: z
      .string({ error: 'say what to restore: full, db-only or an asset name' })
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'must be full, db-only or an asset name' }),
    from: z
      .string()
      .regex(/^set-[0-9a-z-]+$/, { message: 'must be a set id (set-…)' })
      .optional(),
    yes: z.boolean().default(false),
  }),
  access: { role: 'operator', destructive: true },
  async run({ args, engine, requester, gate, observer }) {
    const o = await engine.restore({
      scope: parseScope(args.target),
      from: args.from,
      requester,
      gate: gate({ yes: args.yes }),
      ...(observer ? { observer } : {}),
    });
    return {
      ok: o.status === 'succeeded',
      text: restoreText(`restore ${args.target}${args.from ? ` --from ${args.from}` : ''}`, o),
      data: o,
    };
  },
});
