// `/dr help`: the list of commands (the front end hands in the registry's usage text).
import { z } from 'zod';
import { defineCommand } from './define.js';

export const help = defineCommand({
  name: 'help',
  summary: 'This list of commands',
  usage: 'help',
  positionals: [],
  flags: {},
  args: z.object({}),
  access: { role: 'viewer', destructive: false },
  async run({ usage }) {
    return { ok: true, text: usage };
  },
});
