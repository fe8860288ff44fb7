import './quiet-warnings.js';
import { userInfo } from 'node:os';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { describeError, toAppError } from './errors.js';
import { runTerminal } from './front/terminal.js';
import { createLogger } from './log.js';
import { registerEnvironmentSecrets } from './secrets.js';

/** `npm start`: wiring only — config → adapters → front end. */
async function main(): Promise<number> {
  registerEnvironmentSecrets(process.env);
  const log = createLogger();
  let app: ReturnType<typeof buildApp>;
  try {
    app = buildApp(loadConfig(), log);
  } catch (err) {
    process.stderr.write(`drbot: ${describeError(toAppError(err))}\n`);
    return 2;
  }
  for (const r of await app.engine.recoverInterrupted()) {
    log.warn({ runId: r.id, kind: r.kind }, 'run was interrupted by a previous stop');
  }
  const slack =
    process.env.SLACK_BOT_TOKEN && (process.env.SLACK_SIGNING_SECRET || process.env.SLACK_APP_TOKEN);
  if (slack) {
    process.stderr.write(
      'drbot: the Slack front end is not available in this version yet; unset SLACK_BOT_TOKEN to use the terminal session\n',
    );
    app.close();
    return 1;
  }
  try {
    await runTerminal(app.engine, log, {
      input: process.stdin,
      output: process.stdout,
      user: userInfo().username,
    });
  } finally {
    app.close();
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`drbot: ${describeError(err)}\n`);
    process.exit(1);
  },
);
