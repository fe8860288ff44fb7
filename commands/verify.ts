// `/dr verify`: re-read a set from every target (or one) and compare checksums; --deep restores it.
import { z } from 'zod';
import { defineCommand } from './define.js';
import { targetArg } from './parse.js';
import { verifyText } from './verify-format.js';

export const verify = defineCommand({
  name: 'verify',
  summary:
    'Re-read a set from every target and compare checksums; --deep restores it into scratch and checks it',
  usage: 'verify [set-id|latest] [--deep] [--source <target>]',
  positionals: ['set?'],
  flags: {
    deep: { type: 'boolean', description: 'restore into scratch containers/volumes and run sanity checks' },
    source: { type: 'string', description: 'check and read only this target (local, s3, offsite-1 …)' },
  },
  args: z.object({
    set: z
      .string()
      .regex(/^(latest|set-[0-9a-z-]+)$/, { message: 'must be a set id (set-…) or latest' })
      .default('latest'),
    deep: z.boolean().default(false),
    source: targetArg.optional(),
  }),
  access: { role: 'operator', destructive: false },
  async run({ args, engine, requester, observer }) {
    const o = await engine.verify({
      set: args.set,
      deep: args.deep,
      requester,
      ...(args.source ? { source: args.source } : {}),
      ...(observer ? { observer } : {}),
    });
    return {
      ok: o.status === 'succeeded',
      text: verifyText(`verify ${o.setIds.join(', ')}${args.deep ? ' --deep' : ''}`, o),
      data: o,
    };
  },
});
