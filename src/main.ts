import './quiet-warnings.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { userInfo } from 'node:os';
import { createMetrics } from './adapters/metrics/prometheus.js';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { describeError, toAppError } from './errors.js';
import { createSlackApp } from './front/slack/app.js';
import { prepareEngine } from './front/startup.js';
import { runTerminal } from './front/terminal.js';
import { createLogger } from './log.js';

import { Scheduler } from './scheduler/scheduler.js';
import { registerEnvironmentSecrets } from './secrets.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** `/metrics` and `/healthz` on their own server (Socket Mode and the terminal have no HTTP receiver). */
function serveRoutes(port: number, routes: Record<string, Handler>): () => Promise<void> {
  const server = createServer((req, res) => {
    const route = routes[(req.url ?? '/').split('?')[0] as string];
    if (req.method === 'GET' && route) route(req, res);
    else {
      res.writeHead(404);
      res.end();
    }
  }).listen(port);
  return () => new Promise((resolve) => server.close(() => resolve()));
}

/** `npm start`: wiring only — config → adapters → front end (Slack with secrets, else terminal) + scheduler. */
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
  const { engine } = app;
  const metrics = createMetrics(engine);
  const health: Handler = (_req, res) => {
    engine.ping().then(
      () => res.writeHead(200).end('ok\n'),
      (err: Error) => res.writeHead(503).end(`${err.message}\n`),
    );
  };
  try {
    const notices = await prepareEngine(engine);
    for (const n of notices)
      (n.level === 'info' ? log.info.bind(log) : log.warn.bind(log))({ lines: n.lines }, n.title);
    const token = env.SLACK_BOT_TOKEN;
    if (token && (env.SLACK_SIGNING_SECRET || env.SLACK_APP_TOKEN)) {
      const front = createSlackApp({
        engine,
        config: engine.config,
        env: { ...env, SLACK_BOT_TOKEN: token },
        log,
        routes: [
          { path: '/metrics', method: ['GET'], handler: metrics.handler },
          { path: '/healthz', method: ['GET'], handler: health },
        ],
      });
      await front.start();
      for (const n of notices) await front.notifier.alert(n);
      const closeRoutes = front.http
        ? undefined
        : serveRoutes(Number(env.PORT ?? 3000), { '/metrics': metrics.handler, '/healthz': health });
      const scheduler = new Scheduler(engine, front.notifier, log.child({ component: 'scheduler' }));
      scheduler.start();
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      await scheduler.stop();
      await front.stop();
      await closeRoutes?.();
      return 0;
    }
    // The terminal session is for people at the keyboard (often mid-incident): it runs no
    // schedules, so no automatic backup of a broken state becomes the newest restore point.
    // Without Slack, schedule `drbot backup all` from cron instead.
    const closeRoutes = env.PORT
      ? serveRoutes(Number(env.PORT), { '/metrics': metrics.handler, '/healthz': health })
      : undefined;
    await runTerminal(engine, log, {
      input: process.stdin,
      output: process.stdout,
      user: userInfo().username,
    });
    await closeRoutes?.();
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
