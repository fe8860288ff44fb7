import { randomBytes } from 'node:crypto';
import { findCommand, usageText } from '../../commands/index.js';
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
  const [name, ...rest] = words;
  if (!name) return { ok: false, exitCode: 2, diagnostic: true, text: usageText() };
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
