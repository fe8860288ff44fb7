import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVE_ACTION, REJECT_ACTION } from '../../src/front/slack/approvals.js';
import { type FakeSlack, type SlackCall, startFakeSlack } from '../fakes/slack-api.js';
import { slackTimestamp } from '../fakes/slack-signing.js';
import { execIn } from '../fixtures/docker.js';
import { type EngineHarness, engineHarness } from '../fixtures/engine.js';
import { createSeed, mysqlFingerprint, type Seed, teardownSeed } from '../fixtures/seed.js';
import { type SlackHarness, startSlackFront } from '../fixtures/slack-harness.js';

let seed: Seed;
let fake: FakeSlack;
let h: EngineHarness;
let slack: SlackHarness;
let original: string;

const OPERATOR = 'U0OPERATOR';
const APPROVER = 'U0APPROVER';
const GROUPIE = 'U0GROUPIE'; // an approver through the user group S0APPROVERS
const STRANGER = 'U0STRANGER';

function isCard(c: SlackCall): boolean {
  return c.method === 'chat.postMessage' && JSON.stringify(c.body.blocks ?? '').includes('Approval needed');
}

async function nextCard(after: number): Promise<{ ts: string; value: string; blocks: unknown[] }> {
  const call = await fake.waitFor((c) => isCard(c) && fake.calls.indexOf(c) >= after, 30_000);
  const blocks = call.body.blocks as Array<{
    type: string;
    elements?: Array<{ action_id: string; value: string; style?: string; confirm?: unknown }>;
  }>;
  const approve = blocks
    .find((b) => b.type === 'actions')
    ?.elements?.find((e) => e.action_id === APPROVE_ACTION);
  return { ts: call.response.ts as string, value: approve?.value as string, blocks };
}

async function runStatus(runId: string, want: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (h.app.engine.run(runId).run.status === want) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${runId} is ${h.app.engine.run(runId).run.status}, expected ${want}`);
}

function latestRun(kind: string) {
  return h.app.engine.runs(50).find((r) => r.kind === kind);
}

beforeAll(async () => {
  seed = await createSeed();
  original = mysqlFingerprint('mysql-prod', seed.mysqlEnv);
  fake = await startFakeSlack({ userGroups: { S0APPROVERS: [GROUPIE] } });
  h = engineHarness({
    config: {
      databases: [{ name: 'mysql-prod', container: 'mysql-prod', engine: 'mariadb', tier: 'critical' }],
      slack: {
        alertsChannel: 'C0ALERTS',
        reportsChannel: 'C0REPORTS',
        approvers: [APPROVER, 'S0APPROVERS'],
        // In Slack an empty list refuses operator commands; the requester must be listed.
        operators: [OPERATOR],
        approvalTimeout: '8s',
      },
    },
  });
  h.clock.set(new Date());
  const b = await h.app.engine.backup({ target: 'all', requester: 'setup' });
  expect(b.status, b.failures.join()).toBe('succeeded');
  slack = await startSlackFront(h.app.engine, fake);
});

afterAll(async () => {
  await slack?.front.stop();
  await fake?.stop();
  h?.app.close();
  teardownSeed();
});

describe('requests as Slack sends them', () => {
  it('answers a signed /dr status within 3 s, then posts the status to the response_url', async () => {
    const res = await slack.slash('status', OPERATOR);

    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(3000);
    const reply = await fake.waitForResponse((r) => r.id === res.responseId, 10_000);
    expect(reply.body.response_type).toBe('ephemeral');
    expect(JSON.stringify(reply.body.blocks)).toMatch(/drbot status at .*mysql-prod/);
  });

  it('refuses unsigned and six-minute-old requests with 401 and does nothing', async () => {
    const before = fake.calls.length;

    const unsigned = await slack.slash('backup all', OPERATOR, { unsigned: true });
    const stale = await slack.slash('backup all', OPERATOR, { timestamp: slackTimestamp(-360) });
    await new Promise((r) => setTimeout(r, 500));

    expect(unsigned.status).toBe(401);
    expect(stale.status).toBe(401);
    expect(fake.calls.slice(before)).toEqual([]);
    expect(latestRun('backup')?.requester).toBe('setup');
  });

  it('answers malformed input with an ephemeral usage and starts nothing', async () => {
    const res = await slack.slash('restore', OPERATOR);

    const reply = await fake.waitForResponse((r) => r.id === res.responseId, 10_000);
    // Command output is escaped for mrkdwn: `<asset>` travels as `&lt;asset&gt;` and shows as written.
    expect(JSON.stringify(reply.body.blocks)).toMatch(/usage: \/dr restore full\|db-only\|&lt;asset&gt;/);
    expect(latestRun('restore')).toBeUndefined();
  });
});

describe('/dr restore db-only with two-person approval', () => {
  it('posts a card; the requester and a non-approver are refused; an approver runs it through six stages', async () => {
    execIn('mysql-prod', ['mariadb', '-uroot', '-e', 'DROP DATABASE shop'], { env: seed.mysqlEnv });
    const mark = fake.calls.length;

    await slack.slash('restore db-only', OPERATOR);
    const card = await nextCard(mark);
    const approveButton = (
      card.blocks as Array<{
        type: string;
        elements?: Array<{ style?: string; confirm?: unknown; action_id: string }>;
      }>
    ).find((b) => b.type === 'actions')?.elements?.[0];
    expect(approveButton).toMatchObject({ action_id: APPROVE_ACTION, style: 'primary' });
    expect(approveButton?.confirm).toBeDefined();
    expect(JSON.stringify(card.blocks)).toMatch(/mysql-prod\* \(database\) from `set-/);
    expect(JSON.stringify(card.blocks)).toMatch(/Data-loss window: /);
    expect(JSON.stringify(card.blocks)).toMatch(/Expected duration/);

    await slack.click(APPROVE_ACTION, card.value, OPERATOR, card.ts);
    await slack.click(APPROVE_ACTION, card.value, STRANGER, card.ts);
    await fake.waitFor((c) => c.method === 'chat.postEphemeral' && c.body.user === STRANGER, 10_000);
    const own = fake.ephemerals.find((e) => e.user === OPERATOR);
    expect(own?.text).toMatch(/Two-person rule/);
    expect(fake.ephemerals.find((e) => e.user === STRANGER)?.text).toMatch(
      /not one of the configured approvers/,
    );
    const run = latestRun('restore');
    expect(run?.status).toBe('pending-approval');

    await slack.click(APPROVE_ACTION, card.value, GROUPIE, card.ts);
    await runStatus(run?.id as string, 'succeeded');

    expect(mysqlFingerprint('mysql-prod', seed.mysqlEnv)).toBe(original);
    const audit = h.app.engine
      .run(run?.id as string)
      .events.map((e) => e.message)
      .join('\n');
    expect(audit).toMatch(/approve click by U0OPERATOR refused: the requester cannot approve/);
    expect(audit).toMatch(/approve click by U0STRANGER refused: not a configured approver/);
    expect(audit).toMatch(/approved by U0GROUPIE \(Slack two-person approval\)/);
    // The card shows who decided.
    await fake.waitFor(
      (c) =>
        c.method === 'chat.update' &&
        c.body.ts === card.ts &&
        JSON.stringify(c.body.blocks).includes('Approved by <@U0GROUPIE>'),
      10_000,
    );
    // One progress message, all six stages ticked, postmortem in its thread.
    const progress = fake.messages.find(
      (m) => m.channel === 'C0OPS' && !m.threadTs && (m.text ?? '').includes(run?.id as string),
    );
    expect(progress).toBeDefined();
    await fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        c.body.thread_ts === progress?.ts &&
        String(c.body.text).startsWith('Postmortem'),
      15_000,
    );
    const final = JSON.stringify(fake.message('C0OPS', progress?.ts as string)?.blocks);
    for (const stage of ['assess', 'assemble', 'verify', 'restore', 'resume', 'postmortem'])
      expect(final).toMatch(new RegExp(`✓ \\*${stage}\\*`));
    expect(final).toMatch(/\*succeeded\*/);
    await fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        c.body.channel === 'C0ALERTS' &&
        String(c.body.text).includes(run?.id as string),
      10_000,
    );
    expect(JSON.stringify(fake.calls)).not.toContain(seed.mysqlPassword);
    expect(fake.violations).toEqual([]);
  });

  it('reject ends the run with nothing touched', async () => {
    execIn('mysql-prod', ['mariadb', '-uroot', '-e', 'CREATE TABLE shop.after_backup (id INT)'], {
      env: seed.mysqlEnv,
    });
    const mark = fake.calls.length;

    await slack.slash('restore db-only', OPERATOR);
    const card = await nextCard(mark);
    await slack.click(REJECT_ACTION, card.value, APPROVER, card.ts);
    const run = latestRun('restore');
    await runStatus(run?.id as string, 'rejected');

    expect(
      execIn('mysql-prod', ['mariadb', '-uroot', '-N', '-e', 'SHOW TABLES FROM shop'], {
        env: seed.mysqlEnv,
      }),
    ).toMatch(/after_backup/);
    expect(h.app.engine.run(run?.id as string).events.some((e) => e.stage === 'restore')).toBe(false);
    await fake.waitFor(
      (c) =>
        c.method === 'chat.update' &&
        c.body.ts === card.ts &&
        JSON.stringify(c.body.blocks).includes('Rejected by <@U0APPROVER>'),
      10_000,
    );
  });

  it('an approval that nobody gives expires, with nothing touched', async () => {
    const mark = fake.calls.length;

    await slack.slash('restore db-only', OPERATOR);
    const card = await nextCard(mark);
    const run = latestRun('restore');
    // Expiry is on the engine's clock (approvalTimeout 8s): the test moves it past.
    h.clock.set(new Date(h.clock.now().getTime() + 8_000));
    await runStatus(run?.id as string, 'expired', 30_000);

    expect(h.app.engine.run(run?.id as string).events.some((e) => e.stage === 'restore')).toBe(false);
    await fake.waitFor(
      (c) =>
        c.method === 'chat.update' &&
        c.body.ts === card.ts &&
        JSON.stringify(c.body.blocks).includes('Expired at'),
      10_000,
    );
  });

  it('a newer backup landing after the card was posted voids it', async () => {
    const mark = fake.calls.length;
    await slack.slash('restore db-only', OPERATOR);
    const card = await nextCard(mark);
    const run = latestRun('restore');

    h.clock.set(new Date(h.clock.now().getTime() + 1000));
    const newer = await h.app.engine.backup({ target: 'mysql-prod', requester: 'cron' });
    expect(newer.status).toBe('succeeded');
    await slack.click(APPROVE_ACTION, card.value, APPROVER, card.ts);
    await runStatus(run?.id as string, 'cancelled', 30_000);

    expect(h.app.engine.run(run?.id as string).run.error).toMatch(
      /void: the plan changed since the card was posted \(mysql-prod now set-/,
    );
    await fake.waitFor(
      (c) =>
        c.method === 'chat.update' && c.body.ts === card.ts && JSON.stringify(c.body.blocks).includes('void'),
      10_000,
    );
  });
});

describe('duplicates and rate limits', () => {
  it('twenty rapid clicks and a duplicated delivery start exactly one run, and it completes under 429s', async () => {
    const runsBefore = h.app.engine.runs(200).filter((r) => r.kind === 'restore').length;
    const mark = fake.calls.length;
    fake.rateLimit('chat.update', { perSecond: 1, per: 'message', retryAfter: 1 });
    fake.failNext('chat.update', 3, { status: 429, retryAfter: 1 });

    await Promise.all([
      slack.slash('restore mysql-prod', OPERATOR, { triggerId: 'dup-trigger-1' }),
      slack.slash('restore mysql-prod', OPERATOR, { triggerId: 'dup-trigger-1' }),
    ]);
    const card = await nextCard(mark);
    await Promise.all(
      Array.from({ length: 20 }, () => slack.click(APPROVE_ACTION, card.value, APPROVER, card.ts)),
    );
    const restores = h.app.engine.runs(200).filter((r) => r.kind === 'restore');
    const run = restores[0];
    await runStatus(run?.id as string, 'succeeded');

    expect(restores.length - runsBefore).toBe(1);
    expect(fake.calls.slice(mark).filter(isCard)).toHaveLength(1);
    const progress = fake.messages.find(
      (m) => m.channel === 'C0OPS' && !m.threadTs && (m.text ?? '').includes(run?.id as string),
    );
    await fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        c.body.thread_ts === progress?.ts &&
        String(c.body.text).startsWith('Postmortem'),
      20_000,
    );
    expect(fake.rateLimited.length).toBeGreaterThan(0);
    const final = JSON.stringify(fake.message('C0OPS', progress?.ts as string)?.blocks);
    expect(final).toMatch(/\*succeeded\*/);
    expect(final).toMatch(/✓ \*resume\*/);
    expect(fake.violations).toEqual([]);
  });
});
