import { createHmac } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNotifications } from '../../src/adapters/webhook/notifications.js';
import { createLogger } from '../../src/log.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack-api.js';
import { docker, removeByLabel } from '../fixtures/docker.js';
import { type EngineHarness, engineHarness } from '../fixtures/engine.js';
import { type HttpReceiver, startReceiver } from '../fixtures/http-receiver.js';
import { BUSYBOX_IMAGE } from '../fixtures/images.js';
import { type SlackHarness, startSlackFront } from '../fixtures/slack-harness.js';

const LABEL = 'drbot.fixture=notify';
const VOLUME = 'notify-vol';
const SCHEDULE = '*/10 * * * *'; // the critical tier's
const SECRET_ENV = 'DRBOT_TEST_HOOK_SECRET';
const PING_ENV = 'DRBOT_TEST_PING_URL';
const SECRET = 'whsec-integration-5be0c7a1';
const PING_TOKEN = 'c0ffee00-ping-token-77';
let fake: FakeSlack;
let h: EngineHarness;
let slack: SlackHarness;
let hook: HttpReceiver;
let ping: HttpReceiver;
const logLines: string[] = [];

/** A slot of the critical tier's schedule. */
const SLOT = new Date(Math.floor(Date.now() / 600_000) * 600_000);

/** The scheduler as `npm start` wires it: Slack beside the webhook, pings per schedule. */
function scheduler(): Scheduler {
  const log = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _e, cb) {
        logLines.push(chunk.toString('utf8'));
        cb();
      },
    }),
  });
  const n = buildNotifications(h.app.engine.config, process.env, {
    clock: h.clock,
    log,
    inventory: () => h.app.engine.inventory(),
  });
  return new Scheduler(h.app.engine, n.notifier(slack.front.notifier), log, n.pings);
}

/** A body the receiver got, checked the way a receiver checks it: its own HMAC over the raw bytes. */
function signed(r: HttpReceiver['requests'][number]): boolean {
  const mac = createHmac('sha256', SECRET)
    .update(`${r.headers['x-drbot-timestamp']}.${r.body}`)
    .digest('hex');
  return r.headers['x-drbot-signature'] === `sha256=${mac}`;
}

const webhookEvents = () => hook.requests.map((r) => JSON.parse(r.body) as Record<string, unknown>);

beforeAll(async () => {
  removeByLabel(LABEL);
  docker(['volume', 'create', '--label', LABEL, '--label', 'tier=critical', VOLUME]);
  docker(['run', '--rm', '-v', `${VOLUME}:/v`, BUSYBOX_IMAGE, 'sh', '-c', 'echo data > /v/file']);
  hook = await startReceiver();
  ping = await startReceiver();
  process.env[SECRET_ENV] = SECRET;
  process.env[PING_ENV] = `${ping.origin}/ping/${PING_TOKEN}`;
  fake = await startFakeSlack();
  h = engineHarness({
    config: {
      slack: { reportsChannel: 'C0REPORTS', alertsChannel: 'C0ALERTS', approvers: ['U0APPROVER'] },
      notifications: {
        webhooks: [{ url: `${hook.origin}/drbot-hook`, secretEnv: SECRET_ENV }],
        pings: [{ tier: 'critical', urlEnv: PING_ENV }],
        retry: { attempts: 3, backoff: '1s', maxBackoff: '2s' },
        timeout: '5s',
      },
    },
  });
  slack = await startSlackFront(h.app.engine, fake);
  // Bolt checks its token (auth.test) as it starts; Slack goes down after that answer, or the
  // check's own failure would be nobody's to handle.
  await fake.waitFor((c) => c.method === 'auth.test' && c.status === 200, 10_000);
  // Slack goes down once the app is up: every Web API call answers 500 from now on.
  fake.failAll({ status: 500 });
});

afterAll(async () => {
  await slack?.front.stop();
  await fake?.stop();
  await hook?.close();
  await ping?.close();
  h?.app.close();
  delete process.env[SECRET_ENV];
  delete process.env[PING_ENV];
  removeByLabel(LABEL);
});

describe('with Slack answering 500 to everything', () => {
  it('a failed scheduled backup still reaches the webhook, signed, and the ping URL gets /start then /fail', async () => {
    h.clock.set(SLOT);
    // A file where the set's year directory must go: the local target cannot write the set.
    mkdirSync(h.backupDir, { recursive: true });
    const blocker = join(h.backupDir, String(SLOT.getUTCFullYear()));
    writeFileSync(blocker, 'not a directory');
    // The webhook's receiver is briefly down too: the delivery is retried.
    hook.answer(503);

    const outcome = (await scheduler().runGroup(SCHEDULE, [VOLUME], 'schedule'))?.run;

    expect(outcome).toMatchObject({ kind: 'backup', status: 'failed', requester: 'scheduler' });
    // Slack was asked and failed: the alert never got there.
    const slackPosts = fake.callsTo('chat.postMessage');
    expect(slackPosts.length).toBeGreaterThan(0);
    expect(slackPosts.every((c) => c.status === 500)).toBe(true);
    expect(fake.messages.filter((m) => /Scheduled backup failed/.test(String(m.text)))).toEqual([]);
    // The webhook got it, on the second try, signed.
    const failed = hook.requests.filter((r) => JSON.parse(r.body).event === 'backup-failed');
    expect(failed).toHaveLength(2);
    expect(failed.every(signed)).toBe(true);
    expect(JSON.parse(failed[1]?.body as string)).toMatchObject({
      version: 1,
      event: 'backup-failed',
      kind: 'alert',
      level: 'error',
      title: `Scheduled backup failed: ${outcome?.id}`,
      runId: outcome?.id,
      assets: [VOLUME],
    });
    expect(JSON.parse(failed[1]?.body as string).lines.join('\n')).toMatch(/ENOTDIR|not a directory/);
    expect(ping.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST /ping/${PING_TOKEN}/start`,
      `POST /ping/${PING_TOKEN}/fail`,
    ]);
    expect(ping.requests[1]?.body).toMatch(/ENOTDIR|not a directory/);
    rmSync(blocker);
  });

  it('a good scheduled backup gets /start and the success ping, and backup-succeeded at the webhook', async () => {
    const slot = new Date(SLOT.getTime() + 10 * 60_000);
    h.clock.set(slot);
    ping.requests.length = 0;
    hook.requests.length = 0;

    const outcome = await scheduler().runGroup(SCHEDULE, [VOLUME], 'schedule');

    expect(outcome?.status, outcome?.failures.join()).toBe('succeeded');
    expect(ping.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST /ping/${PING_TOKEN}/start`,
      `POST /ping/${PING_TOKEN}`,
    ]);
    const events = webhookEvents();
    expect(events).toContainEqual(
      expect.objectContaining({ event: 'backup-succeeded', runId: outcome?.run.id, assets: [VOLUME] }),
    );
    expect(hook.requests.every(signed)).toBe(true);
    expect(fake.messages).toEqual([]);
  });

  it('no secret or ping token is in the log, in Slack calls or in the runs', () => {
    const runs = h.app.engine.runs(10).map((r) => JSON.stringify(h.app.engine.run(r.id)));
    const slackBodies = fake.calls.map((c) => JSON.stringify(c.body));
    const everything = [
      ...logLines,
      ...h.logLines,
      ...runs,
      ...slackBodies,
      ...hook.requests.map((r) => r.body),
    ];

    expect(logLines.join('')).toMatch(/notifier|webhook|ping/);
    for (const text of everything) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(PING_TOKEN);
    }
  });
});
