import { backup } from './backup.js';
import { cancel } from './cancel.js';
import { catalog } from './catalog.js';
import type { CommandDefinition } from './define.js';
import { help } from './help.js';
import { policy } from './policy.js';
import { restore } from './restore.js';
import { run } from './run.js';
import { runs } from './runs.js';
import { status } from './status.js';
import { test } from './test.js';
import { undo } from './undo.js';
import { verify } from './verify.js';

/** Every `/dr` subcommand, in the order help lists them. */
export const COMMANDS: readonly CommandDefinition<never>[] = [
  help,
  status,
  backup,
  verify,
  restore,
  undo,
  test,
  runs,
  run,
  cancel,
  policy,
  catalog,
] as unknown as CommandDefinition<never>[];

export function findCommand(name: string): CommandDefinition<never> | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export function usageText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length));
  return [
    'Usage: /dr <command> (in a terminal: drbot <command>)',
    '',
    ...COMMANDS.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

export type { CommandDefinition, CommandResult } from './define.js';
