// `/dr undo <run-id>`: put back the safety snapshot a restore took.
import { z } from 'zod';
import { defineCommand } from './define.js';
import { restoreText } from './restore-format.js';

export const undo = defineCommand({
  name: 'undo',
  summary: 'Put back the state a restore replaced (its safety snapshot), with the same stages and approval',
  usage: 'undo <run-id> [--yes]',
  positionals: ['id'],
  flags: { yes: { type: 'boolean', description: 'approve (command line and terminal only)' } },
  args: z.object({
    id: z
      .string({ error: 'say which restore to undo, e.g. run-12' })
      .regex(/^run-\d+$/, { message: 'must be a run id like run-12' }),
    yes: z.boolean().default(false),
  }),
  access: { role: 'operator', destructive: true },
  async run({ args, engine, requester, gate, observer }) {
    const o = await engine.undo({
      runId: args.id,
      requester,
      gate: gate({ yes: args.yes }),
      ...(observer ? { observer } : {}),
    });
    return { ok: o.status === 'succeeded', text: restoreText(`undo ${args.id}`, o), data: o };
  },
});
