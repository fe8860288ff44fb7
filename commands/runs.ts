// `/dr runs [n]`: the most recent runs.
import { z } from 'zod';
import { defineCommand } from './define.js';
import { runLine, table } from './format.js';
import { countArg } from './parse.js';

export const runs = defineCommand({
  name: 'runs',
  summary: 'The most recent runs (default 10) with status, duration and cause of failure',
  usage: 'runs [n]',
  positionals: ['n?'],
  flags: {},
  args: z.object({ n: countArg(10, 200) }),
  access: { role: 'viewer', destructive: false },
  async run({ args, engine }) {
    const list = engine.runs(args.n);
    if (!list.length) return { ok: true, text: 'no runs yet', data: [] };
    const text = table([
      ['RUN', 'KIND', 'TARGET', 'STATUS', 'CREATED', 'TOOK', 'BY', 'ERROR'],
      ...list.map(runLine),
    ]);
    return { ok: true, text, data: list };
  },
});
