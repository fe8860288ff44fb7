// `npm start`: wiring only — config, adapters, the metrics listener, then the Slack app or the terminal.
import './quiet-warnings.js';
import { userInfo } from 'node:os';
import { createMetrics } from './adapters/metrics/prometheus.js';
import { type RouteHandler, type RouteServer, serveRoutes } from './adapters/metrics/serve.js';
import { buildNotifications, type Notifications } from './adapters/webhook/notifications.js';
import { buildApp } from './app.js';
import {
  type Config,
  DEFAULT_METRICS_LISTEN,
  loadConfig,
  parseListenAddress,
  requireSlackAccess,
} from './config.js';
import { fanOut } from './engine/notify/fan-out.js';
import { describeError, toAppError } from './errors.js';
import { createSlackApp } from './front/slack/app.js';
import { prepareEngine } from './front/startup.js';
import { noticeText, onStopSignals } from './front/stop-signals.js';
import { runTerminal } from './front/terminal.js';
import { createLogger } from './log.js';
import { systemClock } from './ports/clock.js';

import { Scheduler } from './scheduler/scheduler.js';
import { registerEnvironmentSecrets } from './secrets.js';

/**
 * Where `/metrics` and `/healthz` listen: `metrics.listen` (or DRBOT_METRICS_LISTEN), else the
 * loopback default for the Slack app. The terminal session serves them only when asked: two
 * sessions on one host would otherwise fight over the port. Neither rides on Slack's `PORT`
 * any more (they once did, exposing them wherever Slack's endpoint was exposed).
 */
function metricsAddress(config: Config, slack: boolean): { host: string; port: number } | undefined {
  const listen = config.metrics.listen ?? (slack ? DEFAULT_METRICS_LISTEN : undefined);
  return listen === undefined ? undefined : parseListenAddress(listen);
}

/** `npm start`: wiring only — config → adapters → front end (Slack with secrets, else terminal) + scheduler. */
async function main(): Promise<number> {
  const env = process.env;
  registerEnvironmentSecrets(env);
  const log = createLogger();
  const slack = Boolean(env.SLACK_BOT_TOKEN && (env.SLACK_SIGNING_SECRET || env.SLACK_APP_TOKEN));
  let app: ReturnType<typeof buildApp>;
  let notifications: Notifications;
  try {
    const config = loadConfig();
    // Refused before anything is opened: a Slack app nobody may approve restores in.
    if (slack) requireSlackAccess(config);
    app = buildApp(config, log);
    const { engine } = app;
    // Webhooks and pings do not depend on Slack (README "Notifications that do not depend on Slack").
    notifications = buildNotifications(config, env, {
      clock: systemClock,
      log,
      inventory: () => engine.inventory(),
    });
  } catch (err) {
    process.stderr.write(`drbot: ${describeError(toAppError(err))}\n`);
    return 2;
  }
  const { engine } = app;
  const metrics = createMetrics(engine);
  const health: RouteHandler = (_req, res) => {
    engine.ping().then(
      () => res.writeHead(200).end('ok\n'),
      (err: Error) => res.writeHead(503).end(`${err.message}\n`),
    );
  };
  let metricsServer: RouteServer | undefined;
  try {
    const address = metricsAddress(engine.config, slack);
    if (address) {
      try {
        metricsServer = await serveRoutes(address, { '/metrics': metrics.handler, '/healthz': health });
      } catch (err) {
        process.stderr.write(`drbot: ${describeError(toAppError(err))}\n`);
        return 2;
      }
      log.info({ listen: `${address.host}:${metricsServer.address.port}` }, 'serving /metrics and /healthz');
    }
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
        ...(notifications.webhooks.length ? { webhooks: fanOut(notifications.webhooks, log) } : {}),
      });
      await front.start();
      const notifier = notifications.notifier(front.notifier);
      for (const n of notices) await notifier.alert({ ...n, event: n.event ?? 'startup' });
      const scheduler = new Scheduler(
        engine,
        notifier,
        log.child({ component: 'scheduler' }),
        notifications.pings,
      );
      scheduler.start();
      // A redeploy or `docker stop` during a restore: the restore may finish (people see why
      // drbot waits in the alerts channel, and Slack keeps answering meanwhile), never half-done.
      const signals = onStopSignals(engine, {
        notify: (n) => notifier.alert({ ...n, event: n.event ?? 'shutdown' }),
        onSignal: async (signal) => {
          log.info({ signal }, 'stopping: no new run starts');
          await scheduler.stop();
        },
      });
      const { report } = await signals.stopped;
      log.info({ finished: report.finished, abandoned: report.abandoned, cutOff: report.cutOff }, 'stopped');
      await front.stop();
      return report.abandoned.length ? 1 : 0;
    }
    // The terminal session is for people at the keyboard (often mid-incident): it runs no
    // schedules, so no automatic backup of a broken state becomes the newest restore point.
    // Without Slack, schedule `drbot backup all` from cron instead.
    const signals = onStopSignals(engine, {
      notify: (n) => {
        process.stderr.write(noticeText(n));
      },
    });
    try {
      const ended = await Promise.race([
        runTerminal(engine, log, {
          input: process.stdin,
          output: process.stdout,
          user: userInfo().username,
        }).then(() => undefined),
        signals.stopped,
      ]);
      return ended?.report.abandoned.length ? 1 : 0;
    } finally {
      signals.dispose();
    }
  } finally {
    await metricsServer?.close();
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
