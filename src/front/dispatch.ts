// Every front end's one way from a command line to a command's run, its reply and exit code.
import { randomBytes } from 'node:crypto';
import { commandHelp, findCommand, usageText } from '../../commands/index.js';
import { parseArgs } from '../../commands/parse.js';
import type { Engine } from '../engine/engine.js';
import { type ApprovalGate, commandLineGate } from '../engine/runs/approval.js';
import type { RunObserver } from '../engine/runs/run-context.js';
import { describeError, toAppError } from '../errors.js';
import type { Logger } from '../log.js';
import { scrub } from '../secrets.js';

export interface Reply {
  ok: boolean;
  text: string;
  data?: unknown;
  /** 0 done, 1 failed (a run or a dependency), 2 refused (bad input, nothing started). */
  exitCode: 0 | 1 | 2;
  /** A command's answer (even about a failed run) is output; a refusal or error is a diagnostic. */
  diagnostic: boolean;
}

/**
 * The one place a command line becomes a command run, for every front end: unknown or
 * malformed input gets the usage and never starts anything; errors become a clear reply
 * (user → what was wrong and what is allowed; external → the cause; internal → a reference).
 */
export async function dispatch(
  words: string[],
  ctx: {
    engine: Engine;
    requester: string;
    log: Logger;
    gate?: (options: { yes: boolean }) => ApprovalGate;
    observer?: RunObserver;
  },
): Promise<Reply> {
  const asked = helpReply(words);
  if (asked) return asked;
  const [name, ...rest] = words as [string, ...string[]];
  const cmd = findCommand(name);
  if (!cmd)
    return { ok: false, exitCode: 2, diagnostic: true, text: `unknown command '${name}'\n\n${usageText()}` };
  const parsed = parseArgs(cmd, rest);
  if (!parsed.ok) return { ok: false, exitCode: 2, diagnostic: true, text: parsed.error };
  const log = ctx.log.child({ cmd: cmd.name, user: ctx.requester });
  try {
    const gate =
      ctx.gate ?? ((o: { yes: boolean }) => commandLineGate(o.yes, ctx.requester, () => ctx.engine.now()));
    const result = await cmd.run({
      args: parsed.args,
      engine: ctx.engine,
      requester: ctx.requester,
      log,
      usage: usageText(),
      helpFor: commandHelp,
      gate,
      ...(ctx.observer ? { observer: ctx.observer } : {}),
    });
    return { ...result, text: scrub(result.text), exitCode: result.ok ? 0 : 1, diagnostic: false };
  } catch (err) {
    const e = toAppError(err);
    if (e.kind === 'user')
      return { ok: false, exitCode: 2, diagnostic: true, text: scrub(`error: ${e.message}`) };
    if (e.kind === 'external') {
      log.error({ code: e.code, err: describeError(e) }, 'command failed');
      return { ok: false, exitCode: 1, diagnostic: true, text: scrub(`failed: ${describeError(e)}`) };
    }
    const ref = `ref-${randomBytes(3).toString('hex')}`;
    log.error({ ref, err: e.message, stack: e.stack }, 'internal error');
    return {
      ok: false,
      exitCode: 1,
      diagnostic: true,
      text: `internal error (${ref}); details are in the log`,
    };
  }
}

const HELP_FLAGS = new Set(['--help', '-h']);

/**
 * Help, which needs no engine (so the CLI answers it before reading its config): `--help`,
 * `-h`, `help [command]` and `<command> --help`; nothing at all gets the usage as a refusal.
 * Anything else is not a request for help: undefined. `footer` adds what only this front end
 * has to the command list (the CLI's own options).
 */
export function helpReply(words: string[], footer?: string): Reply | undefined {
  const [first, ...rest] = words;
  const list = () => (footer ? `${usageText()}\n\n${footer}` : usageText());
  if (first === undefined) return { ok: false, exitCode: 2, diagnostic: true, text: list() };
  const help = (text: string): Reply => ({ ok: true, exitCode: 0, diagnostic: false, text });
  if (HELP_FLAGS.has(first)) return help(list());
  const named = first === 'help' ? rest.filter((w) => !HELP_FLAGS.has(w)) : undefined;
  if (named) {
    if (named.length > 1)
      return {
        ok: false,
        exitCode: 2,
        diagnostic: true,
        text: `unexpected argument '${named[1]}'\nusage: /dr help [command]`,
      };
    if (!named[0]) return help(list());
    const text = commandHelp(named[0]);
    return text
      ? help(text)
      : { ok: false, exitCode: 2, diagnostic: true, text: `unknown command '${named[0]}'\n\n${usageText()}` };
  }
  if (rest.some((w) => HELP_FLAGS.has(w))) {
    const text = commandHelp(first);
    if (text) return help(text);
  }
  return undefined;
}
