// `/dr run <id> [--postmortem]`: one run with its timeline, or its postmortem.
import { z } from 'zod';
import { restoreResult } from '../src/domain/runs.js';
import { defineCommand } from './define.js';
import { runLine, table } from './format.js';

export const run = defineCommand({
  name: 'run',
  summary: 'One run in full: status, key results and its timeline; --postmortem prints its postmortem',
  usage: 'run <run-id> [--postmortem]',
  positionals: ['id'],
  flags: {
    postmortem: { type: 'boolean', description: 'print only the postmortem (Markdown) of a restore' },
  },
  args: z.object({
    id: z
      .string({ error: 'a run id is required, e.g. run-12' })
      .regex(/^run-\d+$/, { message: 'must be a run id like run-12' }),
    postmortem: z.boolean().default(false),
  }),
  access: { role: 'viewer', destructive: false },
  async run({ args, engine }) {
    const { run: r, events, summary } = engine.run(args.id);
    const restored = restoreResult(r);
    const pm = restored.postmortem;
    if (args.postmortem) {
      if (!pm)
        return {
          ok: false,
          text: `${r.id} has no postmortem: only restores and undos that were approved write one`,
        };
      return { ok: true, text: pm, data: { postmortem: pm } };
    }
    const lines = [
      table([['RUN', 'KIND', 'TARGET', 'STATUS', 'CREATED', 'TOOK', 'BY', 'ERROR'], runLine(r)]),
    ];
    const facts: Array<[string, unknown]> = [
      ['set', r.kind === 'backup' ? r.result.setId : undefined],
      ['safety snapshot', restored.safetySetId],
      ['stopped by this run', restored.stopped?.length ? restored.stopped.join(', ') : undefined],
    ];
    for (const [k, v] of facts) if (typeof v === 'string' && v) lines.push(`${k}: ${v}`);
    if (r.status === 'interrupted' && restored.safetySetId) {
      lines.push(
        `the run was interrupted; its safety snapshot ${restored.safetySetId} is intact: drbot undo ${r.id} --yes puts it back`,
      );
    }
    if (pm) lines.push(`postmortem: drbot run ${r.id} --postmortem`);
    lines.push('', 'timeline:');
    if (summary) {
      const folded = Object.entries(summary.info)
        .map(([stage, x]) => `${stage || 'run'} ${x.n}`)
        .join(', ');
      lines.push(`  (info events folded into a summary on ${summary.at.slice(0, 10)}: ${folded})`);
    }
    for (const e of events) {
      lines.push(`  ${e.at.toISOString()}  ${(e.stage ?? '').padEnd(10)} ${e.type.padEnd(11)} ${e.message}`);
    }
    return {
      ok: r.status !== 'failed' && r.status !== 'interrupted',
      text: lines.join('\n'),
      data: { run: r, events },
    };
  },
});
