// The `/dr` command registry: every subcommand, the usage list and each command's help.
import { backup } from './backup.js';
import { cancel } from './cancel.js';
import { catalog } from './catalog.js';
import type { CommandDefinition } from './define.js';
import { help } from './help.js';
import { policy } from './policy.js';
import { prune } from './prune.js';
import { restore } from './restore.js';
import { run } from './run.js';
import { runs } from './runs.js';
import { status } from './status.js';
import { storage } from './storage.js';
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
  prune,
  catalog,
  storage,
] as unknown as CommandDefinition<never>[];

export function findCommand(name: string): CommandDefinition<never> | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export function usageText(): string {
  // Usage above summary: one long usage line would push every summary off an 80-column screen.
  return [
    'Usage: /dr <command> (in a terminal: drbot <command>)',
    '',
    ...COMMANDS.flatMap((c) => [`  ${c.usage}`, `      ${c.summary}`]),
  ].join('\n');
}

/** One command's help: its usage, what it does, and its options (`help <command>`, `<command> --help`). */
export function commandHelp(name: string): string | undefined {
  const c = findCommand(name);
  if (!c) return undefined;
  const flags = Object.entries(c.flags).map(([flag, spec]) => {
    // The usage line names a flag's value (`--from <set-id>`); the spec only says it takes one.
    const value = c.usage.match(new RegExp(`--${flag} (<[^>]+>)`))?.[1] ?? '<value>';
    return [spec.type === 'string' ? `--${flag} ${value}` : `--${flag}`, spec.description] as const;
  });
  const width = Math.max(0, ...flags.map(([f]) => f.length));
  return [
    `Usage: /dr ${c.usage}`,
    `   or: drbot ${c.usage}`,
    '',
    c.summary,
    ...(flags.length ? ['', 'Options:', ...flags.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`)] : []),
  ].join('\n');
}

export type { CommandDefinition, CommandResult } from './define.js';
