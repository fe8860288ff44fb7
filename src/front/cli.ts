import { userInfo } from 'node:os';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import { describeError, toAppError } from '../errors.js';
import { createLogger } from '../log.js';
import { registerEnvironmentSecrets } from '../secrets.js';
import { dispatch } from './dispatch.js';

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
    for (const r of await app.engine.recoverInterrupted()) {
      const stopped =
        Array.isArray(r.result.stopped) && r.result.stopped.length
          ? `; it had stopped ${(r.result.stopped as string[]).join(', ')}`
          : '';
      const snapshot =
        typeof r.result.safetySetId === 'string'
          ? `; safety snapshot ${r.result.safetySetId} is intact (drbot undo ${r.id} --yes)`
          : '';
      process.stderr.write(
        `drbot: ${r.id} (${r.kind} ${r.target}) was interrupted: the process running it stopped${stopped}${snapshot}\n`,
      );
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
