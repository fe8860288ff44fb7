// `/dr cancel <run-id>`: withdraw a pending approval or stop a run before its next stage.
import { z } from 'zod';
import { defineCommand } from './define.js';

export const cancel = defineCommand({
  name: 'cancel',
  summary: 'Stop a run before its next stage, or withdraw a pending approval (never mid-restore)',
  usage: 'cancel <run-id>',
  positionals: ['id'],
  flags: {},
  args: z.object({
    id: z
      .string({ error: 'say which run to cancel, e.g. run-12' })
      .regex(/^run-\d+$/, { message: 'must be a run id like run-12' }),
  }),
  access: { role: 'operator', destructive: false },
  async run({ args, engine, requester }) {
    const { message } = engine.cancel(args.id, requester);
    return { ok: true, text: message };
  },
});
