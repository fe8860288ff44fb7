// The one-shot CLI: `drbot <subcommand> …` for cron, scripts and break-glass recovery.
import { userInfo } from 'node:os';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import { describeError, toAppError } from '../errors.js';
import { createLogger } from '../log.js';
import { registerEnvironmentSecrets } from '../secrets.js';
import { dispatch } from './dispatch.js';
import { prepareEngine } from './startup.js';

/**
 * `drbot <subcommand> …`: one command, then exit — for cron, scripts and break-glass recovery.
 * Output goes to stdout (`--json` for machines), logs to stderr. Exit code: 0 done, 1 failed,
 * 2 refused (bad input; nothing started).
 */
export async function runCli(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const words = argv.filter((a) => a !== '--json');
  registerEnvironmentSecrets(process.env);
  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  let app: ReturnType<typeof buildApp>;
  try {
    app = buildApp(loadConfig(), log);
  } catch (err) {
    process.stderr.write(`drbot: ${describeError(toAppError(err))}\n`);
    return 2;
  }
  try {
    if (words[0] !== 'help' && words[0] !== undefined) {
      for (const n of await prepareEngine(app.engine, 'cli'))
        process.stderr.write(`drbot: ${n.title}${n.lines.map((l) => `\n  ${l}`).join('')}\n`);
    }
    const reply = await dispatch(words, { engine: app.engine, requester: `cli:${safeUser()}`, log });
    if (json)
      process.stdout.write(
        `${JSON.stringify({ ok: reply.ok, text: reply.text, data: reply.data }, null, 2)}\n`,
      );
    else (reply.diagnostic ? process.stderr : process.stdout).write(`${reply.text}\n`);
    return reply.exitCode;
  } finally {
    app.close();
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
