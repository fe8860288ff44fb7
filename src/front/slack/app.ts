// The Slack front end: Bolt's receiver or Socket Mode, access checks, and one dispatcher for /dr.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { type AllMiddlewareArgs, App, type SlackCommandMiddlewareArgs } from '@slack/bolt';
import { findCommand } from '../../../commands/index.js';
import { splitWords } from '../../../commands/parse.js';
import { restoreText } from '../../../commands/restore-format.js';
import { type Config, requireSlackAccess } from '../../config.js';
import { formatSpan } from '../../domain/duration.js';
import type { Engine } from '../../engine/engine.js';
import { runNotice } from '../../engine/notify/run-notice.js';
import type { ApprovalGate } from '../../engine/runs/approval.js';
import type { Logger } from '../../log.js';
import type { Notifier } from '../../ports/notifier.js';
import type { ApprovalRecord } from '../../ports/state-store.js';
import { dispatch } from '../dispatch.js';
import { noOperatorsMessage, originRefusal, requestOrigin } from './access.js';
import { APPROVE_ACTION, ApprovalDesk, REJECT_ACTION, type TakeUp } from './approvals.js';
import { codeBlocks, escapeMrkdwn } from './blocks.js';
import { boltLogger } from './bolt-logger.js';
import { Directory } from './directory.js';
import { slackNotifier } from './notifier.js';
import { ProgressMessage } from './progress.js';
import { RunRateLimit } from './rate-limit.js';
import { SlackPoster } from './slack-client.js';

export interface SlackEnv {
  SLACK_BOT_TOKEN: string;
  SLACK_SIGNING_SECRET?: string | undefined;
  SLACK_APP_TOKEN?: string | undefined;
  SLACK_API_URL?: string | undefined;
  PORT?: string | undefined;
}

/** How long a stop waits for commands in progress to record what it did to them. */
const STOP_GRACE_MS = 5000;

/** Subcommands that start a run: they get a live progress message instead of a reply. */
const RUN_COMMANDS = new Set(['backup', 'verify', 'test', 'restore', 'undo']);

export interface SlackFrontEnd {
  app: App;
  poster: SlackPoster;
  /** Reports and alerts to the configured channels. */
  notifier: Notifier;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The Slack front end: Bolt's HTTP receiver on PORT (`POST /slack/events`, signatures and
 * timestamps checked by Bolt), or Socket Mode when SLACK_APP_TOKEN is set. Transport only:
 * every command goes through the shared dispatcher. It serves nothing but Slack's endpoint:
 * `/metrics` and `/healthz` have their own listener (metrics.listen).
 *
 * Throws CONFIG_INVALID when the config lacks what Slack needs (an approver).
 */
export function createSlackApp(options: {
  engine: Engine;
  config: Config;
  env: SlackEnv;
  log: Logger;
  /** Webhooks that hear of runs started from Slack too (they do not depend on Slack). */
  webhooks?: Notifier;
}): SlackFrontEnd {
  const { engine, config, env } = options;
  requireSlackAccess(config);
  const log = options.log.child({ adapter: 'slack' });
  if (!config.slack.operators.length)
    log.warn(
      { key: 'slack.operators' },
      'no operators configured: operator commands (backup, verify, test, restore, undo, cancel) are refused in Slack',
    );
  const socketMode = Boolean(env.SLACK_APP_TOKEN);
  const apiUrl = env.SLACK_API_URL
    ? env.SLACK_API_URL.endsWith('/')
      ? env.SLACK_API_URL
      : `${env.SLACK_API_URL}/`
    : undefined;
  const clientOptions = {
    ...(apiUrl ? { slackApiUrl: apiUrl } : {}),
    // A 429 must delay only the call that got it, not every message (see SlackPoster).
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 3, minTimeout: 200, maxTimeout: 2000 },
  };
  const app = new App({
    token: env.SLACK_BOT_TOKEN,
    ...(socketMode
      ? { socketMode: true, appToken: env.SLACK_APP_TOKEN as string }
      : { signingSecret: env.SLACK_SIGNING_SECRET ?? '' }),
    ...(socketMode ? {} : { endpoints: '/slack/events', port: Number(env.PORT ?? 3000) }),
    clientOptions,
    logger: boltLogger(log),
    // Work continues after the ack; Slack gets its answer within 3 s regardless.
    processBeforeResponse: false,
  });
  const poster = new SlackPoster(app.client, log);
  const directory = new Directory(poster);
  // Commands being handled: a stop lets those whose approval it handed over finish recording it.
  const inflight = new Set<Promise<void>>();
  // A request a stopped process left waiting, approved on its card here: run and reported here.
  const takeUp: TakeUp = (approval, gate) => {
    const handled = resumeAndReport(approval, gate);
    inflight.add(handled);
    return handled.finally(() => inflight.delete(handled));
  };
  async function resumeAndReport(approval: ApprovalRecord, gate: ApprovalGate): Promise<void> {
    const { run } = engine.run(approval.runId);
    const title = `${run.kind} ${run.target}`;
    const progress = new ProgressMessage(
      poster,
      approval.channel,
      `/dr ${title} (taken up after a restart)`,
      approval.requester,
      log.child({ cmd: run.kind, user: approval.requester }),
    );
    const outcome = await engine.resumeRestore({ runId: run.id, gate, observer: progress });
    const text = restoreText(title, outcome);
    await progress.finish(outcome.status, text, outcome.postmortem);
    await report(run.id, text);
  }
  const desk = new ApprovalDesk(
    poster,
    engine,
    directory,
    config.slack.approvers,
    config.ms.approval,
    log,
    takeUp,
  );
  // Every request, of every kind, passes here first: one from another workspace or app stops.
  app.use(async (args) => {
    const body = args.body as unknown as Record<string, unknown>;
    const refusal = originRefusal(config.slack, requestOrigin(body, args.context));
    if (!refusal) return args.next();
    log.warn({ type: body.type ?? (body.command ? 'slash_command' : undefined), refusal }, 'request refused');
    const ack = (args as { ack?: (response?: unknown) => Promise<void> }).ack;
    await ack?.(
      body.command
        ? { response_type: 'ephemeral', text: 'This drbot does not serve this workspace or app.' }
        : undefined,
    );
  });

  const seen = new Set<string>();
  const runLimit = new RunRateLimit(config.slack.rateLimit.runs, config.ms.slackRateWindow, () =>
    engine.now().getTime(),
  );
  const firstTime = (key: string) => {
    if (seen.has(key)) return false;
    seen.add(key);
    if (seen.size > 1000) seen.delete(seen.values().next().value as string);
    return true;
  };

  app.command('/dr', async (args) => {
    const handled = handleCommand(args);
    inflight.add(handled);
    try {
      await handled;
    } finally {
      inflight.delete(handled);
    }
  });

  async function handleCommand({
    command,
    ack,
    respond,
  }: SlackCommandMiddlewareArgs & AllMiddlewareArgs): Promise<void> {
    await ack();
    // Requests that arrived together are all acknowledged before any of them is worked on:
    // Slack gives up on an ack after 3 s, so answering one must not delay the others' acks.
    await yieldToLoop();
    // A duplicated delivery of the same command carries the same trigger_id: run it once.
    if (!firstTime(`cmd:${command.trigger_id}`)) {
      log.info({ trigger: command.trigger_id }, 'duplicate /dr delivery ignored');
      return;
    }
    const words = splitWords(command.text ?? '');
    if (words[0] === '/dr') words.shift();
    const user = command.user_id;
    const def = words[0] ? findCommand(words[0]) : undefined;
    const clog = log.child({ cmd: words[0] ?? '', user });
    const say = (text: string) =>
      respond({
        response_type: 'ephemeral',
        text: escapeMrkdwn(text.slice(0, 3000)),
        blocks: codeBlocks(text, '`drbot` in a terminal shows all of it') as never,
      }).catch((err: Error) => clog.warn({ err: err.message }, 'ephemeral reply failed'));
    if (def?.access.role === 'operator') {
      // Operators are granted by the config, never assumed: an empty list refuses everyone.
      const refusal = !config.slack.operators.length
        ? noOperatorsMessage(def.name)
        : !(await directory.contains(config.slack.operators, user))
          ? `/dr ${def.name} is for operators; you are not one of the configured operators (slack.operators).`
          : undefined;
      if (refusal) {
        clog.warn({ operators: config.slack.operators.length }, 'operator command refused');
        await say(refusal);
        return;
      }
    }
    if (def && RUN_COMMANDS.has(def.name) && !words.some((w) => w === '--help' || w === '-h')) {
      const rate = runLimit.take(user);
      if (!rate.ok) {
        clog.warn({ limit: config.slack.rateLimit }, 'run refused: rate limit');
        await say(
          `You have started ${config.slack.rateLimit.runs} runs in the last ${formatSpan(config.ms.slackRateWindow)}, as many as drbot allows one person (slack.rateLimit). /dr ${def.name} can start in ${Math.ceil(rate.retryInMs / 1000)} s.`,
        );
        return;
      }
    }
    const progress =
      def && RUN_COMMANDS.has(def.name)
        ? new ProgressMessage(poster, command.channel_id, `/dr ${words.join(' ')}`, user, clog)
        : undefined;
    const reply = await dispatch(words, {
      engine,
      requester: user,
      log: clog,
      gate: () => desk.gate(command.channel_id, user),
      ...(progress ? { observer: progress } : {}),
    });
    if (progress?.run && engine.run(progress.run.id).run.status === 'pending-approval') {
      // Handed over as drbot stops: the card stays valid and whoever takes it up reports it.
      clog.info({ runId: progress.run.id }, 'left waiting for approval');
    } else if (progress?.run) {
      const data = reply.data as { postmortem?: string } | undefined;
      await progress.finish(
        progress.run ? (engine.run(progress.run.id).run.status as string) : 'failed',
        reply.text,
        data?.postmortem,
      );
      await report(progress.run.id, reply.text);
    } else {
      await say(reply.text);
    }
  }

  /** DR runs and failures go to the alerts channel too, and to webhooks whatever Slack does. */
  async function report(runId: string, text: string): Promise<void> {
    const { run } = engine.run(runId);
    const notice = options.webhooks ? runNotice(run, text) : undefined;
    if (notice)
      void options.webhooks?.[notice.level === 'info' ? 'report' : 'alert'](notice).catch((err: Error) =>
        log.warn({ err: err.message }, 'webhook notice failed'),
      );
    const alert =
      run.kind === 'restore' ||
      run.kind === 'undo' ||
      run.status === 'failed' ||
      run.status === 'interrupted';
    const channel = alert ? config.slack.alertsChannel : undefined;
    if (!channel) return;
    const icon = run.status === 'succeeded' ? ':white_check_mark:' : ':rotating_light:';
    await poster
      .post(channel, `${icon} ${run.id} ${run.kind} ${run.target} by <@${run.requester}>: ${run.status}`, [
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: `${icon} *${run.id}* ${run.kind} ${run.target} by <@${run.requester}>: *${run.status}*`,
          },
        },
        ...codeBlocks(text, `\`/dr run ${run.id}\``, 3),
      ])
      .catch((err: Error) => log.warn({ err: err.message }, 'alert not posted'));
  }

  for (const action of [APPROVE_ACTION, REJECT_ACTION] as const) {
    app.action(action, async ({ ack, body, action: a }) => {
      await ack();
      await yieldToLoop();
      const value = (a as { value?: string }).value ?? '';
      const channel = (body as { channel?: { id?: string } }).channel?.id;
      await desk.click({ action, value, user: body.user.id, channel });
    });
  }

  return {
    app,
    poster,
    notifier: slackNotifier(poster, config, log),
    start: async () => {
      await app.start();
      // One status warms what every later answer uses (compiled code, SQLite's page cache).
      // Not awaited: a Docker engine that hangs must not keep the app from answering.
      void engine.status().catch((err: Error) => log.warn({ err: err.message }, 'status warm-up failed'));
      log.info(
        { mode: socketMode ? 'socket' : 'http', port: socketMode ? undefined : Number(env.PORT ?? 3000) },
        'slack app started',
      );
    },
    stop: async () => {
      // Pending approvals outlive this process: their cards stay valid for the next one.
      await desk.handOver();
      await Promise.race([
        Promise.allSettled([...inflight]),
        new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref()),
      ]);
      await app.stop();
    },
  };
}
