// Approval cards outlive the process that posted them: a restart, a crash, expiry and cancel on the real fixture.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type App, buildApp } from '../../src/app.js';
import { buildConfig, DEFAULT_TIERS } from '../../src/config.js';
import { APPROVE_ACTION } from '../../src/front/slack/approvals.js';
import { prepareEngine } from '../../src/front/startup.js';
import { createLogger } from '../../src/log.js';
import { type FakeSlack, type SlackCall, startFakeSlack } from '../fakes/slack-api.js';
import { fakeTriggerId, postToApp, slashCommandBody } from '../fakes/slack-signing.js';
import { drbot, REPO, type Workspace, workspace } from '../fixtures/cli.js';
import { execIn, waitFor } from '../fixtures/docker.js';
import { ManualClock } from '../fixtures/engine.js';
import { createSeed, mysqlFingerprint, type Seed, teardownSeed } from '../fixtures/seed.js';
import {
  BOT_TOKEN,
  freePort,
  SIGNING_SECRET,
  type SlackHarness,
  startSlackFront,
} from '../fixtures/slack-harness.js';

const OPERATOR = 'U0OPERATOR';
const APPROVER = 'U0APPROVER';

let seed: Seed;
let fake: FakeSlack;
let ws: Workspace;
let original: string;

beforeAll(async () => {
  seed = await createSeed();
  fake = await startFakeSlack();
  ws = workspace({
    extra: {
      // No schedule of mysql-prod falls due while these tests run (a spawned app runs the scheduler).
      tiers: { ...DEFAULT_TIERS, critical: { ...DEFAULT_TIERS.critical, schedule: '0 3 * * 0' } },
      slack: {
        alertsChannel: 'C0ALERTS',
        reportsChannel: 'C0REPORTS',
        approvers: [APPROVER],
        operators: [OPERATOR],
        approvalTimeout: '10m',
      },
    },
  });
  const backup = await drbot(ws, ['backup', 'mysql-prod']);
  expect(backup.code, backup.stdout + backup.stderr).toBe(0);
  original = mysqlFingerprint('mysql-prod', seed.mysqlEnv);
});

afterAll(async () => {
  await fake?.stop();
  teardownSeed();
});

/** drbot in this process on the workspace's config and state file, as `npm start` builds it. */
function inProcess(clock: ManualClock): App {
  const config = buildConfig(parse(readFileSync(ws.configPath, 'utf8')), ws.configPath);
  return buildApp(config, createLogger({ level: 'warn' }), { clock });
}

function isCard(c: SlackCall): boolean {
  return c.method === 'chat.postMessage' && JSON.stringify(c.body.blocks ?? '').includes('Approval needed');
}

async function nextCard(after: number): Promise<{ ts: string; value: string; runId: string }> {
  const call = await fake.waitFor((c) => isCard(c) && fake.calls.indexOf(c) >= after, 60_000);
  const blocks = call.body.blocks as Array<{
    type: string;
    elements?: Array<{ action_id: string; value: string }>;
  }>;
  const value = blocks
    .find((b) => b.type === 'actions')
    ?.elements?.find((e) => e.action_id === APPROVE_ACTION)?.value as string;
  return { ts: call.response.ts as string, value, runId: JSON.parse(value).runId as string };
}

function cardUpdated(ts: string, text: string) {
  return fake.waitFor(
    (c) => c.method === 'chat.update' && c.body.ts === ts && JSON.stringify(c.body.blocks).includes(text),
    30_000,
  );
}

async function runStatus(app: App, runId: string, want: string, timeoutMs = 180_000): Promise<void> {
  await waitFor(`${runId} to be ${want}`, () => app.engine.run(runId).run.status === want, timeoutMs);
}

/** Stops the Slack app as a deploy does, and closes its state file. */
async function stopApp(slack: SlackHarness, app: App): Promise<void> {
  await slack.front.stop();
  app.close();
}

describe('a restart while a restore waits for approval', () => {
  it('a card posted before the restart is approved after it by a second person: the restore runs once and succeeds', async () => {
    execIn('mysql-prod', ['mariadb', '-uroot', '-e', 'DROP DATABASE shop'], { env: seed.mysqlEnv });
    const clock = new ManualClock();
    const before = inProcess(clock);
    const slackBefore = await startSlackFront(before.engine, fake);
    const mark = fake.calls.length;
    await slackBefore.slash('restore mysql-prod', OPERATOR);
    const card = await nextCard(mark);
    await stopApp(slackBefore, before);

    const after = inProcess(clock);
    const notices = await prepareEngine(after.engine);
    const slack = await startSlackFront(after.engine, fake);
    try {
      await slack.click(APPROVE_ACTION, card.value, OPERATOR, card.ts);
      await fake.waitFor((c) => c.method === 'chat.postEphemeral' && c.body.user === OPERATOR, 10_000);
      await Promise.all([
        slack.click(APPROVE_ACTION, card.value, APPROVER, card.ts),
        slack.click(APPROVE_ACTION, card.value, APPROVER, card.ts),
      ]);
      await runStatus(after, card.runId, 'succeeded');

      expect(notices.map((n) => n.title).join('\n')).not.toContain(card.runId);
      expect(mysqlFingerprint('mysql-prod', seed.mysqlEnv)).toBe(original);
      expect(
        after.engine
          .runs(50)
          .filter((r) => r.kind === 'restore')
          .map((r) => r.id),
      ).toEqual([card.runId]);
      const events = after.engine.run(card.runId).events;
      expect(events.filter((e) => e.stage === 'restore' && e.type === 'stage-start')).toHaveLength(1);
      const timeline = events.map((e) => e.message).join('\n');
      expect(timeline).toMatch(/approve click by U0OPERATOR refused: the requester cannot approve/);
      expect(timeline).toMatch(/taken up again: the process that asked for approval stopped/);
      expect(timeline).toMatch(/approved by U0APPROVER \(Slack two-person approval\)/);
      expect(fake.ephemerals.find((e) => e.user === OPERATOR)?.text).toMatch(/Two-person rule/);
      await cardUpdated(card.ts, 'Approved by <@U0APPROVER>');
      expect(after.engine.approvals()).toEqual([]);
      expect(fake.violations).toEqual([]);
    } finally {
      await stopApp(slack, after);
    }
  });

  it('expiry still fires after a restart, and a later click is told the request expired', async () => {
    const clock = new ManualClock();
    const before = inProcess(clock);
    const slackBefore = await startSlackFront(before.engine, fake);
    const mark = fake.calls.length;
    await slackBefore.slash('restore mysql-prod', OPERATOR);
    const card = await nextCard(mark);
    await stopApp(slackBefore, before);

    const after = inProcess(clock);
    await prepareEngine(after.engine);
    const slack = await startSlackFront(after.engine, fake);
    try {
      expect(after.engine.run(card.runId).run.status).toBe('pending-approval');
      clock.set(new Date(clock.now().getTime() + 10 * 60_000));
      await runStatus(after, card.runId, 'expired', 30_000);
      await cardUpdated(card.ts, 'Expired at');
      const ephemerals = fake.ephemerals.length;
      await slack.click(APPROVE_ACTION, card.value, APPROVER, card.ts);
      await waitFor('the answer to a late click', () => fake.ephemerals.length > ephemerals, 10_000);

      expect(fake.ephemerals.at(-1)?.text).toBe('This request is already decided (expired).');
      expect(after.engine.run(card.runId).events.some((e) => e.stage === 'restore')).toBe(false);
      expect(after.engine.run(card.runId).run.error).toBe('no approval within 10m');
    } finally {
      await stopApp(slack, after);
    }
  });
});

/** `npm start` with Slack secrets, as its own process, on `configPath`. */
async function startAppProcess(configPath: string): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(REPO, 'dist', 'src', 'main.js')], {
    cwd: ws.dir,
    env: {
      ...process.env,
      DRBOT_CONFIG: configPath,
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: fake.url,
      PORT: String(port),
      DRBOT_METRICS_LISTEN: '127.0.0.1:0',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitFor(
    'the Slack app to listen',
    () =>
      new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.end();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
    60_000,
  );
  return { child, base: `http://127.0.0.1:${port}` };
}

async function slashTo(base: string, text: string, user: string): Promise<void> {
  const body = slashCommandBody({
    text,
    user_id: user,
    channel_id: 'C0OPS',
    response_url: fake.responseUrl(`crash-${Date.now()}`),
    trigger_id: fakeTriggerId(),
  });
  const res = await postToApp(base, '/slack/events', body, { secret: SIGNING_SECRET });
  expect(res.status).toBe(200);
}

/** Posts a restore card from a real app process, then kills it as a crash would. */
async function crashWhileWaiting(configPath: string): Promise<{ ts: string; runId: string }> {
  const { child, base } = await startAppProcess(configPath);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const mark = fake.calls.length;
  await slashTo(base, 'restore mysql-prod', OPERATOR);
  const card = await nextCard(mark);
  // Killed once the card is recorded as posted: from then on it outlives the process.
  await waitFor('the card to be recorded', () => {
    const db = new Database(ws.statePath, { readonly: true });
    try {
      const row = db.prepare('SELECT message_ts FROM approvals WHERE run_id = ?').get(card.runId) as
        | { message_ts: string | null }
        | undefined;
      return Boolean(row?.message_ts);
    } finally {
      db.close();
    }
  });
  child.kill('SIGKILL');
  await exited;
  return card;
}

describe('a crash while a restore waits for approval', () => {
  it('its card still holds the asset, names the run, and `cancel` from a terminal releases it', async () => {
    const card = await crashWhileWaiting(ws.configPath);

    const refused = await drbot(ws, ['restore', 'mysql-prod', '--yes']);
    const cancel = await drbot(ws, ['cancel', card.runId]);
    const restore = await drbot(ws, ['restore', 'mysql-prod', '--yes']);

    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(
      new RegExp(
        `asset 'mysql-prod' is busy: ${card.runId} \\(restore\\) is in progress, waiting for approval until `,
      ),
    );
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(`${card.runId}: the approval request is withdrawn`);
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    const shown = JSON.parse((await drbot(ws, ['run', card.runId, '--json'])).stdout);
    expect(shown.data.run).toMatchObject({
      status: 'cancelled',
      error: expect.stringMatching(/^withdrawn: cancelled by cli:/),
    });
    // The next Slack app shows on the card how it ended.
    const app = inProcess(new ManualClock());
    const slack = await startSlackFront(app.engine, fake);
    try {
      await cardUpdated(card.ts, 'withdrawn: cancelled by cli:');
    } finally {
      await stopApp(slack, app);
    }
  });

  it('an approval that expired while nothing ran is settled at the next start, and the asset is free', async () => {
    const shortConfig = join(ws.dir, 'drbot-short-timeout.yaml');
    const raw = parse(readFileSync(ws.configPath, 'utf8'));
    writeFileSync(shortConfig, stringify({ ...raw, slack: { ...raw.slack, approvalTimeout: '5s' } }));
    const card = await crashWhileWaiting(shortConfig);
    await new Promise((r) => setTimeout(r, 5_500));

    const restore = await drbot(ws, ['restore', 'mysql-prod', '--yes']);

    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    expect(restore.stderr).toMatch(
      `${card.runId} (restore mysql-prod) was waiting for approval when drbot stopped: expired (no approval within 5s)`,
    );
  });
});
