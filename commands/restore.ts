// `/dr restore`: the disaster-recovery run (two-person approval in Slack, --yes on a terminal).
import { z } from 'zod';
import { parseScope } from '../src/domain/restore-plan.js';
import { defineCommand } from './define.js';
import { parseSpan } from '../src/domain/duration.js';
import { parsePointInTime } from '../src/domain/pitr.js';
import { pointInTimeArg, targetArg } from './parse.js';
import { restoreText } from './restore-format.js';

export const restore = defineCommand({
  name: 'restore',
  summary:
    'Disaster recovery: assess → approve → verify → restore (after a safety snapshot) → resume → postmortem',
  usage:
    'restore full|db-only|<asset> [--from <set-id>] [--to <time>] [--source <target>] [--env-file <file>] [--yes]',
  positionals: ['target'],
  flags: {
    from: { type: 'string', description: 'restore from this set instead of the newest complete one' },
    source: { type: 'string', description: 'read every artifact from this target (local, s3, offsite-1 …)' },
    'env-file': {
      type: 'string',
      description: 'KEY=value file with secret values for containers a bare-host restore re-creates',
    },
    yes: { type: 'boolean', description: 'approve the plan (command line and terminal only)' },
    to: {
      type: 'string',
      description:
        'restore the databases to this point in time (ISO-8601, or before now: -10m): base dump + archived binary logs',
    },
  },
  args: z.object({
    target: z
      .string({ error: 'say what to restore: full, db-only or an asset name' })
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'must be full, db-only or an asset name' }),
    from: z
      .string()
      .regex(/^set-[0-9a-z-]+$/, { message: 'must be a set id (set-…)' })
      .optional(),
    source: targetArg.optional(),
    'env-file': z.string().min(1).optional(),
    yes: z.boolean().default(false),
    to: pointInTimeArg.optional(),
  }),
  access: { role: 'operator', destructive: true },
  async run({ args, engine, requester, gate, observer }) {
    const o = await engine.restore({
      scope: parseScope(args.target),
      from: args.from,
      ...(args.to ? { to: parsePointInTime(args.to, engine.now(), parseSpan) as Date } : {}),
      requester,
      ...(args.source ? { source: args.source } : {}),
      ...(args['env-file'] ? { envFile: args['env-file'] } : {}),
      gate: gate({ yes: args.yes }),
      ...(observer ? { observer } : {}),
    });
    return {
      ok: o.status === 'succeeded',
      text: restoreText(
        `restore ${args.target}${args.from ? ` --from ${args.from}` : ''}${args.to ? ` --to ${args.to}` : ''}`,
        o,
      ),
      data: o,
    };
  },
});
