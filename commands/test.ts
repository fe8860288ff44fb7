// `/dr test`: the recovery drill (deep-verify the newest backup of every asset).
import { z } from 'zod';
import { defineCommand } from './define.js';
import { verifyText } from './verify-format.js';

export const test = defineCommand({
  name: 'test',
  summary: 'Recovery test: restore the newest backup of every protected asset into scratch and check it',
  usage: 'test',
  positionals: [],
  flags: {},
  args: z.object({}),
  access: { role: 'operator', destructive: false },
  async run({ engine, requester, observer }) {
    const o = await engine.test({ requester, ...(observer ? { observer } : {}) });
    return { ok: o.status === 'succeeded', text: verifyText('recovery test', o), data: o };
  },
});
