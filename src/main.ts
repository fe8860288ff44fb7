import './quiet-warnings.js';
import { userInfo } from 'node:os';
import { createSlackApp } from './adapters/slack/app.js';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { describeError, toAppError } from './errors.js';
import { runTerminal } from './front/terminal.js';
import { createLogger } from './log.js';
import { registerEnvironmentSecrets } from './secrets.js';

/** `npm start`: wiring only — config → adapters → front end (Slack with secrets, else terminal). */
async function main(): Promise<number> {
  const env = process.env;
  registerEnvironmentSecrets(env);
  const log = createLogger();
  let app: ReturnType<typeof buildApp>;
  try {
    app = buildApp(loadConfig(), log);
  } catch (err) {
    process.stderr.write(`drbot: ${describeError(toAppError(err))}\n`);
    return 2;
  }
  try {
    for (const r of await app.engine.recoverInterrupted()) {
      log.warn({ runId: r.id, kind: r.kind }, 'run was interrupted by a previous stop');
    }
    const token = env.SLACK_BOT_TOKEN;
    if (token && (env.SLACK_SIGNING_SECRET || env.SLACK_APP_TOKEN)) {
      const front = createSlackApp({
        engine: app.engine,
        config: app.engine.deps.config,
        env: { ...env, SLACK_BOT_TOKEN: token },
        log,
      });
      await front.start();
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      await front.stop();
      return 0;
    }
    await runTerminal(app.engine, log, {
      input: process.stdin,
      output: process.stdout,
      user: userInfo().username,
    });
    return 0;
  } finally {
    app.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`drbot: ${describeError(err)}\n`);
    process.exit(1);
  },
);
