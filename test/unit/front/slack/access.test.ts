// Slack access: operators are granted, never assumed; approvers are required; other workspaces and apps are refused.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../../../src/errors.js';
import { originRefusal, requestOrigin } from '../../../../src/front/slack/access.js';
import { createSlackApp } from '../../../../src/front/slack/app.js';
import { APPROVE_ACTION } from '../../../../src/front/slack/approvals.js';
import { createLogger } from '../../../../src/log.js';
import { type FakeSlack, startFakeSlack } from '../../../fakes/slack-api.js';
import {
  blockActionsPayload,
  FAKE_TEAM,
  fakeTriggerId,
  postToApp,
  slashCommandPayload,
} from '../../../fakes/slack-signing.js';
import { type EngineHarness, engineHarness } from '../../../fixtures/engine.js';
import {
  BOT_TOKEN,
  SIGNING_SECRET,
  type SlackHarness,
  startSlackFront,
} from '../../../fixtures/slack-harness.js';

const OPERATOR = 'U0OPERATOR';
const GROUP_OPERATOR = 'U0ONCALL'; // an operator through the user group S0OPS
const APPROVER = 'U0APPROVER';
const MEMBER = 'U0MEMBER';

let fake: FakeSlack;
let h: EngineHarness | undefined;
let slack: SlackHarness | undefined;

afterEach(async () => {
  await slack?.front.stop();
  h?.app.close();
  slack = undefined;
  h = undefined;
});

afterAll(async () => {
  await fake?.stop();
});

/** The real Bolt app over an engine with this `slack` config section. */
async function start(slackConfig: Record<string, unknown>): Promise<SlackHarness> {
  fake ??= await startFakeSlack({ userGroups: { S0OPS: [GROUP_OPERATOR] } });
  h = engineHarness({ config: { slack: { approvers: [APPROVER], ...slackConfig } } });
  slack = await startSlackFront(h.app.engine, fake);
  return slack;
}

/** `/dr <text>` and the text of the ephemeral answer on its response_url. */
async function ask(text: string, user: string): Promise<string> {
  const res = await (slack as SlackHarness).slash(text, user);
  expect(res.status).toBe(200);
  const reply = await fake.waitForResponse((r) => r.id === res.responseId, 5000);
  return String(reply.body.text);
}

/** Posts a signed body (form-encoded fields) to the app, as Slack would. */
async function post(fields: Record<string, string>) {
  const body = new URLSearchParams(fields).toString();
  return postToApp((slack as SlackHarness).base, '/slack/events', body, { secret: SIGNING_SECRET });
}

const settle = () => new Promise((r) => setTimeout(r, 300));

/** Web API calls since `from`, but Bolt's own auth.test (it asks who the bot is on a first request). */
const reactions = (from: number) =>
  fake.calls
    .slice(from)
    .map((c) => c.method)
    .filter((m) => m !== 'auth.test');

describe('operator commands while slack.operators is empty', () => {
  it('refuses them to every member, says how to configure operators, and starts nothing', async () => {
    await start({ operators: [] });

    const backup = await ask('backup all', MEMBER);
    const restore = await ask('restore db-only', APPROVER);

    expect(backup).toContain('/dr backup is an operator command, and no operators are configured');
    expect(backup).toContain('operators: [U0123ABCD, S0ONCALL]');
    expect(backup).toMatch(/\/dr status.*work for everyone/);
    expect(restore).toContain('/dr restore is an operator command');
    expect(h?.app.engine.runs(10)).toEqual([]);
  });

  it('still answers read-only commands', async () => {
    await start({ operators: [] });

    const help = await ask('help', MEMBER);

    expect(help).toMatch(/Usage: \/dr &lt;command&gt;/);
  });
});

describe('operator commands with slack.operators set', () => {
  it('lets a listed operator and a member of a listed user group through, and refuses anyone else', async () => {
    await start({ operators: [OPERATOR, 'S0OPS'] });

    const byOperator = await ask('cancel run-999', OPERATOR);
    const byGroup = await ask('cancel run-999', GROUP_OPERATOR);
    const byMember = await ask('cancel run-999', MEMBER);

    expect(byOperator).toMatch(/run-999/);
    expect(byOperator).not.toMatch(/operator/);
    expect(byGroup).toMatch(/run-999/);
    expect(byGroup).not.toMatch(/operator/);
    expect(byMember).toContain('you are not one of the configured operators');
  });
});

describe('start-up', () => {
  it('refuses to create the Slack app without an approver', async () => {
    fake ??= await startFakeSlack({ userGroups: { S0OPS: [GROUP_OPERATOR] } });
    h = engineHarness({ config: { slack: { approvers: [], operators: [OPERATOR] } } });

    let error: unknown;
    try {
      createSlackApp({
        engine: h.app.engine,
        config: h.app.engine.config,
        env: { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: fake.url },
        log: createLogger({ level: 'silent' }),
      });
    } catch (err) {
      error = err;
    }

    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('CONFIG_INVALID');
    expect((error as AppError).message).toContain('slack.approvers: [] — must list at least one');
  });

  it('serves nothing but Slack on its port: /metrics and /healthz have their own listener', async () => {
    const s = await start({ operators: [OPERATOR] });

    const metrics = await fetch(`${s.base}/metrics`);
    const health = await fetch(`${s.base}/healthz`);

    expect(metrics.status).toBe(404);
    expect(health.status).toBe(404);
  });
});

describe('slack.teamId and slack.appId', () => {
  const slash = (overrides: Record<string, string>) => ({
    ...slashCommandPayload({
      text: 'help',
      user_id: OPERATOR,
      channel_id: 'C0OPS',
      response_url: fake.responseUrl(`team-${Math.random()}`),
      trigger_id: fakeTriggerId(),
    }),
    ...overrides,
  });

  it('answers requests from the configured workspace and app', async () => {
    await start({ operators: [OPERATOR], teamId: FAKE_TEAM.teamId, appId: FAKE_TEAM.appId });

    const help = await ask('help', OPERATOR);

    expect(help).toMatch(/Usage: \/dr &lt;command&gt;/);
  });

  it.each([
    ['another workspace', { team_id: 'T0OTHER' }],
    ['another app', { api_app_id: 'A0OTHER' }],
    ['a request without a team id', { team_id: '' }],
  ])('refuses a slash command from %s, doing nothing', async (_what, overrides) => {
    await start({ operators: [OPERATOR], teamId: FAKE_TEAM.teamId, appId: FAKE_TEAM.appId });
    const before = { calls: fake.calls.length, responses: fake.responses.length };

    const res = await post(slash({ ...overrides, text: 'backup all' }));
    await settle();

    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ text: 'This drbot does not serve this workspace or app.' });
    expect(reactions(before.calls)).toEqual([]);
    expect(fake.responses.length).toBe(before.responses);
    expect(h?.app.engine.runs(10)).toEqual([]);
  });

  it('refuses a button click from another workspace, and takes the same click from its own', async () => {
    await start({ operators: [OPERATOR], teamId: FAKE_TEAM.teamId });
    const click = (team: string) => {
      const payload = blockActionsPayload({
        user_id: APPROVER,
        channel_id: 'C0OPS',
        message_ts: '1700000000.000100',
        action_id: APPROVE_ACTION,
        value: JSON.stringify({ runId: 'run-1' }),
        response_url: fake.responseUrl(`click-${team}`),
      });
      return post({ payload: JSON.stringify({ ...payload, team: { id: team, domain: 'x' } }) });
    };
    const before = { calls: fake.calls.length, responses: fake.responses.length };

    const foreign = await click('T0OTHER');
    await settle();
    const afterForeign = { calls: reactions(before.calls), responses: fake.responses.length };
    const own = await click(FAKE_TEAM.teamId);

    expect(foreign.status).toBe(200);
    expect(afterForeign).toEqual({ calls: [], responses: before.responses });
    expect(own.status).toBe(200);
    await fake
      .waitFor((c) => c.method === 'chat.postEphemeral' && c.body.user === APPROVER, 5000)
      .catch(() => fake.waitForResponse((r) => r.id === `click-${FAKE_TEAM.teamId}`, 5000));
  });

  it('checks nothing when neither key is set', async () => {
    await start({ operators: [OPERATOR] });

    const res = await post(slash({ team_id: 'T0ANY', api_app_id: 'A0ANY' }));

    expect(res.status).toBe(200);
    expect(res.text).not.toContain('does not serve');
  });
});

describe('originRefusal', () => {
  it('admits every workspace of an Enterprise Grid org when slack.teamId is the org id', () => {
    const inOrg = originRefusal({ teamId: 'E0ORG' }, { team: 'T0ANY', enterprise: 'E0ORG', app: 'A0FAKE' });
    const outside = originRefusal(
      { teamId: 'E0ORG' },
      { team: 'T0ANY', enterprise: undefined, app: 'A0FAKE' },
    );

    expect(inOrg).toBeUndefined();
    expect(outside).toBe('request from team T0ANY, expected E0ORG (slack.teamId)');
  });

  it('reads the ids of commands, interactions and events', () => {
    expect(requestOrigin({ team_id: 'T1', api_app_id: 'A1', enterprise_id: 'E1' })).toEqual({
      team: 'T1',
      enterprise: 'E1',
      app: 'A1',
    });
    expect(requestOrigin({ team: { id: 'T2' }, enterprise: { id: 'E2' }, api_app_id: 'A2' })).toEqual({
      team: 'T2',
      enterprise: 'E2',
      app: 'A2',
    });
    expect(requestOrigin({ team: null, user: { team_id: 'T3' } }, { teamId: '' })).toEqual({
      team: 'T3',
      enterprise: undefined,
      app: undefined,
    });
  });
});
