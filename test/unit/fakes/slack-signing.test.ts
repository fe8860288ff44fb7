import type { AddressInfo } from 'node:net';
import { App, LogLevel, verifySlackRequest } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeSlack, startFakeSlack } from '../../fakes/slack-api.js';
import {
  blockActionsBody,
  postToApp,
  signRequest,
  slackTimestamp,
  slashCommandBody,
} from '../../fakes/slack-signing.js';

const SECRET = 'test-signing-secret';

/** Feeds our headers to Bolt's own verifier, converting the timestamp the way its receiver does. */
function verify(body: string, headers: ReturnType<typeof signRequest>, nowMilliseconds?: number): void {
  verifySlackRequest({
    signingSecret: SECRET,
    body,
    headers: {
      'x-slack-signature': headers['X-Slack-Signature'],
      'x-slack-request-timestamp': Number(headers['X-Slack-Request-Timestamp']),
    },
    ...(nowMilliseconds !== undefined ? { nowMilliseconds } : {}),
  });
}

describe('signRequest', () => {
  it('produces headers that Bolt verifySlackRequest accepts', () => {
    const body = slashCommandBody({
      text: 'status',
      user_id: 'U1',
      channel_id: 'C1',
      response_url: 'http://x/r',
    });

    const headers = signRequest(SECRET, body);

    expect(() => verify(body, headers)).not.toThrow();
    expect(headers['X-Slack-Signature']).toMatch(/^v0=[0-9a-f]{64}$/);
    expect(headers['Content-Type']).toBe('application/x-www-form-urlencoded');
  });

  it('gives the known digest for a fixed timestamp', () => {
    // Computed independently: printf 'v0:1531420618:hello' | openssl dgst -sha256 -hmac test-signing-secret
    const headers = signRequest(SECRET, 'hello', 1531420618);

    expect(headers['X-Slack-Request-Timestamp']).toBe('1531420618');
    expect(headers['X-Slack-Signature']).toBe(
      'v0=95c22da7da7a82896cf49b915111eabf8bccc3f472eeb8f4ecd7c0d3fa4d4592',
    );
  });

  it('is refused by Bolt when six minutes old or signed with another secret', () => {
    const body = '{"type":"event_callback"}';
    const stale = signRequest(SECRET, body, slackTimestamp(-360));
    const forged = signRequest('not-the-secret', body);

    expect(() => verify(body, stale)).toThrow(/stale/);
    expect(() => verify(body, forged)).toThrow(/signature mismatch/);
    expect(stale['Content-Type']).toBe('application/json');
  });
});

describe('request bodies', () => {
  it('builds a slash command with every field Slack sends, in order', () => {
    const body = slashCommandBody({
      text: 'restore db-only --from set-7',
      user_id: 'U1',
      channel_id: 'C1',
      response_url: 'http://x/r',
      trigger_id: 't.1',
    });

    const fields = new URLSearchParams(body);

    expect([...fields.keys()]).toEqual([
      'token',
      'team_id',
      'team_domain',
      'channel_id',
      'channel_name',
      'user_id',
      'user_name',
      'command',
      'text',
      'api_app_id',
      'is_enterprise_install',
      'response_url',
      'trigger_id',
    ]);
    expect(fields.get('command')).toBe('/dr');
    expect(fields.get('text')).toBe('restore db-only --from set-7');
    expect(body).toContain('text=restore+db-only+--from+set-7');
  });

  it('builds a block_actions payload as form field `payload`', () => {
    const body = blockActionsBody({
      user_id: 'U1',
      channel_id: 'C1',
      message_ts: '1700000000.000100',
      action_id: 'approve',
      value: 'run-42',
      response_url: 'http://x/r',
    });

    const payload = JSON.parse(new URLSearchParams(body).get('payload') ?? '{}');

    expect(payload).toMatchObject({
      type: 'block_actions',
      user: { id: 'U1', team_id: 'T0FAKE' },
      container: { type: 'message', message_ts: '1700000000.000100', channel_id: 'C1', is_ephemeral: false },
      channel: { id: 'C1' },
      message: { ts: '1700000000.000100', blocks: [] },
      response_url: 'http://x/r',
      actions: [{ action_id: 'approve', value: 'run-42', type: 'button', block_id: 'block-approve' }],
    });
    expect(payload.actions[0].action_ts).toMatch(/^\d+\.\d{6}$/);
  });
});

describe('postToApp against a real Bolt app (HTTP receiver) wired to the fake Web API', () => {
  let fake: FakeSlack;
  let app: App;
  let baseUrl: string;
  const seen: { command?: string; retryNum?: number | undefined; action?: string | undefined } = {};

  beforeAll(async () => {
    fake = await startFakeSlack();
    app = new App({
      token: 'xoxb-test',
      signingSecret: SECRET,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: fake.url, retryConfig: { retries: 0 } },
    });
    app.command('/dr', async ({ ack, command, client, respond }) => {
      await ack();
      seen.command = command.text;
      await client.chat.postMessage({ channel: command.channel_id, text: `running ${command.text}` });
      await respond({ response_type: 'ephemeral', text: 'started' });
    });
    app.action('approve', async ({ ack, action, context }) => {
      await ack();
      seen.action = 'value' in action ? action.value : undefined;
      seen.retryNum = context.retryNum;
    });
    const server = (await app.start(0)) as { address(): AddressInfo | string | null };
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await app.stop();
    await fake.stop();
  });

  it('delivers a signed slash command; the handler reaches the fake and the response_url', async () => {
    const body = slashCommandBody({
      text: 'backup all',
      user_id: 'U1',
      channel_id: 'C1',
      response_url: fake.responseUrl('cmd-1'),
    });

    const response = await postToApp(baseUrl, '/slack/events', body, { secret: SECRET });

    expect(response.status).toBe(200);
    expect(response.ms).toBeLessThan(3000);
    await fake.waitFor((call) => call.method === 'chat.postMessage');
    await fake.waitForResponse((post) => post.id === 'cmd-1');
    expect(seen.command).toBe('backup all');
    expect(fake.messages[0]).toMatchObject({ channel: 'C1', text: 'running backup all' });
    expect(fake.callsTo('auth.test')[0]?.token).toBe('xoxb-test');
  });

  it('passes Slack retry headers through to the listener context', async () => {
    const body = blockActionsBody({
      user_id: 'U1',
      channel_id: 'C1',
      message_ts: '1700000000.000100',
      action_id: 'approve',
      value: 'run-42',
      response_url: fake.responseUrl('act-1'),
    });

    const response = await postToApp(baseUrl, 'slack/events', body, {
      secret: SECRET,
      retryNum: 1,
      retryReason: 'http_timeout',
    });

    expect(response.status).toBe(200);
    expect(seen).toMatchObject({ action: 'run-42', retryNum: 1 });
  });

  it('gets 401 for unsigned, stale and wrongly signed requests', async () => {
    const body = slashCommandBody({
      text: 'status',
      user_id: 'U1',
      channel_id: 'C1',
      response_url: 'http://x/r',
    });

    const unsigned = await postToApp(baseUrl, '/slack/events', body, { secret: SECRET, unsigned: true });
    const stale = await postToApp(baseUrl, '/slack/events', body, {
      secret: SECRET,
      timestamp: slackTimestamp(-360),
    });
    const forged = await postToApp(baseUrl, '/slack/events', body, { secret: 'wrong' });

    expect([unsigned.status, stale.status, forged.status]).toEqual([401, 401, 401]);
  });
});
