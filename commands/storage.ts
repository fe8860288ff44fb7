// `/dr storage`: the least-privilege IAM policy for drbot's S3 credentials, and applying the lifecycle rules.
import { z } from 'zod';
import { describeRule } from '../src/engine/storage/lifecycle.js';
import { defineCommand } from './define.js';

export const storage = defineCommand({
  name: 'storage',
  summary:
    "S3 storage: `policy` prints the least-privilege IAM policy for drbot's credentials (--admin: for `apply`); `apply` writes the buckets' lifecycle rules per tier",
  usage: 'storage policy|apply [--admin]',
  positionals: ['action'],
  flags: {
    admin: {
      type: 'boolean',
      description: 'with policy: the policy for whoever runs `storage apply`, not for drbot',
    },
  },
  args: z
    .object({
      action: z.enum(['policy', 'apply'], { error: 'must be policy or apply' }),
      admin: z.boolean().default(false),
    })
    .refine((a) => !a.admin || a.action === 'policy', { message: '--admin goes with policy only' }),
  access: { role: 'operator', destructive: false },
  async run({ args, engine }) {
    if (args.action === 'policy') {
      const policies = engine.storagePolicies();
      const policy = args.admin ? policies.admin : policies.runtime;
      if (!policy.Statement[0]?.Resource.length)
        return {
          ok: false,
          text: 'no S3 target is configured (storage.s3, storage.offsite): no policy to print',
        };
      return { ok: true, text: JSON.stringify(policy, null, 2), data: policy };
    }
    const applied = await engine.applyStorage();
    if (!applied.length)
      return {
        ok: false,
        text: 'no S3 target is configured (storage.s3, storage.offsite): nothing to apply',
      };
    const lines: string[] = [];
    for (const a of applied) {
      lines.push(`${a.target} ${a.location}: lifecycle rules written; in force now:`);
      for (const r of a.inForce) lines.push(`  ${describeRule(r)}`);
      if (a.missing.length)
        lines.push(`  NOT AS WRITTEN: ${a.missing.join(', ')} (the bucket answered otherwise)`);
    }
    lines.push(
      '',
      'objects are tagged drbot-tier=<tier> and drbot-kind=artifact|metadata as they are written; only artifacts move to colder classes',
    );
    return { ok: applied.every((a) => !a.missing.length), text: lines.join('\n'), data: applied };
  },
});
