// `/dr help [command]`: the list of commands, or one command in full (the front end hands in the registry's texts).
import { z } from 'zod';
import { ErrorCode, userError } from '../src/errors.js';
import { defineCommand } from './define.js';

export const help = defineCommand({
  name: 'help',
  summary: 'This list of commands; help <command> for one command’s usage and options',
  usage: 'help [command]',
  positionals: ['command?'],
  flags: {},
  args: z.object({
    command: z
      .string()
      .regex(/^[a-z][a-z-]*$/, { message: 'must be a command name, e.g. restore' })
      .optional(),
  }),
  access: { role: 'viewer', destructive: false },
  async run({ args, usage, helpFor }) {
    if (!args.command) return { ok: true, text: usage };
    const text = helpFor(args.command);
    if (!text) throw userError(ErrorCode.USAGE, `unknown command '${args.command}'\n\n${usage}`);
    return { ok: true, text };
  },
});
