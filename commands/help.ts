import { z } from 'zod';
import { defineCommand } from './define.js';

/** Filled in by the registry (it cannot import the registry without a cycle). */
export const helpText = { value: '' };

export const help = defineCommand({
  name: 'help',
  summary: 'This list of commands',
  usage: 'help',
  positionals: [],
  flags: {},
  args: z.object({}),
  access: { role: 'viewer', destructive: false },
  async run() {
    return { ok: true, text: helpText.value };
  },
});
