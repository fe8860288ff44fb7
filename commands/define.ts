// The shape of a `/dr` command, shared by every front end: name, usage, arguments, access, run.
import type { z } from 'zod';
import type { Engine } from '../src/engine/engine.js';
import type { ApprovalGate } from '../src/engine/runs/approval.js';
import type { RunObserver } from '../src/engine/runs/run-context.js';
import type { Logger } from '../src/log.js';

/** Who may run a command; `destructive` commands go through the approval gate. */
export interface Access {
  role: 'viewer' | 'operator';
  destructive: boolean;
}

/** What a command hands back; every front end renders it its own way. */
export interface CommandResult {
  ok: boolean;
  /** Plain text (terminal, CLI, Slack fallback). */
  text: string;
  /** Structured result for `--json` and richer renderers. */
  data?: unknown;
}

export interface CommandContext<A> {
  args: A;
  engine: Engine;
  /**
   * The approval gate for destructive commands, supplied by the front end: `--yes` in the CLI
   * and terminal, the two-person approval card in Slack.
   */
  gate: (options: { yes: boolean }) => ApprovalGate;
  /** Hears the progress of the run the command starts (Slack's live message, the terminal). */
  observer?: RunObserver;
  /** Who asked: a Slack user id, or `cli:<user>` / `terminal:<user>`. */
  requester: string;
  log: Logger;
  /** Every command's usage line (from the registry), for `help`. */
  usage: string;
  /** One command's full help (from the registry), for `help <command>`; undefined if unknown. */
  helpFor: (command: string) => string | undefined;
}

export interface FlagSpec {
  type: 'string' | 'boolean';
  description: string;
}

/** A `/dr` subcommand, defined once and served by Slack, the terminal session and the CLI. */
export interface CommandDefinition<A = unknown> {
  name: string;
  summary: string;
  usage: string;
  /** Positional argument names, in order; a trailing `?` marks an optional one. */
  positionals: string[];
  flags: Record<string, FlagSpec>;
  args: z.ZodType<A>;
  access: Access;
  run(ctx: CommandContext<A>): Promise<CommandResult>;
}

export function defineCommand<A>(def: CommandDefinition<A>): CommandDefinition<A> {
  return def;
}
