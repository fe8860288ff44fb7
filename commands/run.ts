import { z } from 'zod';
import { defineCommand } from './define.js';
import { runLine, table } from './format.js';

export const run = defineCommand({
  name: 'run',
  summary: 'One run in full: status, result and its timeline',
  usage: 'run <run-id>',
  positionals: ['id'],
  flags: {},
  args: z.object({
    id: z
      .string({ error: 'a run id is required, e.g. run-12' })
      .regex(/^[a-z]+-\d+$/, { message: 'must be a run id like run-12' }),
  }),
  access: { role: 'viewer', destructive: false },
  async run({ args, engine }) {
    const { run: r, events } = engine.run(args.id);
    const lines = [
      table([['RUN', 'KIND', 'TARGET', 'STATUS', 'CREATED', 'TOOK', 'BY', 'ERROR'], runLine(r)]),
      '',
      'timeline:',
    ];
    for (const e of events) {
      lines.push(`  ${e.at.toISOString()}  ${(e.stage ?? '').padEnd(9)} ${e.type.padEnd(11)} ${e.message}`);
    }
    return {
      ok: r.status !== 'failed' && r.status !== 'interrupted',
      text: lines.join('\n'),
      data: { run: r, events },
    };
  },
});
