// `/dr runs [n] [--before <run-id>]`: the most recent runs, a page at a time.
import { z } from 'zod';
import { defineCommand } from './define.js';
import { runLine, table } from './format.js';
import { countArg } from './parse.js';

export const runs = defineCommand({
  name: 'runs',
  summary: 'The most recent runs (default 10) with status, duration and cause of failure',
  usage: 'runs [n] [--before <run-id>]',
  positionals: ['n?'],
  flags: {
    before: { type: 'string', description: 'the page of runs older than this one (from a previous page)' },
  },
  args: z.object({
    n: countArg(10, 200),
    before: z
      .string()
      .regex(/^run-[0-9]+$/, { message: 'must be a run id (run-…)' })
      .optional(),
  }),
  access: { role: 'viewer', destructive: false },
  async run({ args, engine }) {
    const list = engine.runs(args.n, args.before);
    if (!list.length)
      return { ok: true, text: args.before ? `no runs before ${args.before}` : 'no runs yet', data: [] };
    const rows = table([
      ['RUN', 'KIND', 'TARGET', 'STATUS', 'CREATED', 'TOOK', 'BY', 'ERROR'],
      ...list.map(runLine),
    ]);
    const last = list[list.length - 1];
    const older = list.length === args.n && last && engine.runs(1, last.id).length > 0;
    const more = older ? `\nolder runs: runs ${args.n} --before ${last.id}` : '';
    return { ok: true, text: `${rows}${more}`, data: list };
  },
});
