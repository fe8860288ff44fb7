import { ErrorCode, LogLevel, WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeSlack, type FakeSlackOptions, startFakeSlack } from '../../fakes/slack-api.js';

const BOT_TOKEN = 'xoxb-test-token';

let fake: FakeSlack;

/** A real WebClient aimed at the fake; no retries unless a test asks, so failures surface at once. */
function client(options: ConstructorParameters<typeof WebClient>[1] = {}): WebClient {
  return new WebClient(BOT_TOKEN, {
    slackApiUrl: fake.url,
    logLevel: LogLevel.ERROR,
    retryConfig: { retries: 0 },
    ...options,
  });
}

async function restart(options: FakeSlackOptions): Promise<void> {
  await fake.stop();
  fake = await startFakeSlack(options);
}

function section(text: string) {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

beforeEach(async () => {
  fake = await startFakeSlack();
});

afterEach(async () => {
  await fake.stop();
});

describe('fake Slack Web API with the real WebClient', () => {
  it('answers auth.test with the bot identity and records the bearer token', async () => {
    const web = client();

    const result = await web.auth.test();

    expect(result).toMatchObject({ ok: true, user_id: 'U0FAKEBOT', bot_id: 'B0FAKEBOT', team_id: 'T0FAKE' });
    expect(result.url).toBe('https://fake-workspace.slack.com/');
    expect(fake.calls).toMatchObject([{ method: 'auth.test', token: BOT_TOKEN, status: 200 }]);
  });

  it('round-trips postMessage and update, decoding form-encoded blocks into objects', async () => {
    const web = client();
    const blocks = [section('*Backup started*')];

    const posted = await web.chat.postMessage({ channel: 'C1', text: 'Backup started', blocks });
    const ts = posted.ts ?? '';
    await web.chat.update({ channel: 'C1', ts, text: 'Backup done', blocks: [section('*Backup done*')] });

    expect(ts).toBe('1700000000.000100');
    expect(fake.callsTo('chat.postMessage')[0]?.body.blocks).toEqual(blocks);
    expect(fake.messages).toHaveLength(1);
    const message = fake.message('C1', ts);
    expect(message?.text).toBe('Backup done');
    expect(message?.blocks).toEqual([section('*Backup done*')]);
    expect(message?.history.map((v) => [v.source, v.text])).toEqual([
      ['chat.postMessage', 'Backup started'],
      ['chat.update', 'Backup done'],
    ]);
  });

  it('hands out unique, increasing ts values', async () => {
    const web = client();

    const first = await web.chat.postMessage({ channel: 'C1', text: 'one' });
    const second = await web.chat.postMessage({ channel: 'C2', text: 'two' });

    expect(Number(second.ts)).toBeGreaterThan(Number(first.ts));
    expect(second.ts).toBe('1700000000.000200');
  });

  it('answers message_not_found for an update of a message it never saw', async () => {
    const web = client();

    const update = web.chat.update({ channel: 'C1', ts: '1.000000', text: 'x' });

    await expect(update).rejects.toMatchObject({
      code: ErrorCode.PlatformError,
      data: { error: 'message_not_found' },
    });
  });

  it('rejects 51 blocks with invalid_blocks and records the violation', async () => {
    const web = client();
    const blocks = Array.from({ length: 51 }, (_, i) => section(`row ${i}`));

    const post = web.chat.postMessage({ channel: 'C1', text: 'too many', blocks });

    await expect(post).rejects.toMatchObject({ data: { error: 'invalid_blocks' } });
    expect(fake.violations).toEqual([
      expect.objectContaining({ method: 'chat.postMessage', path: '/blocks', limit: 50, actual: 51 }),
    ]);
    expect(fake.messages).toHaveLength(0);
  });

  it('rejects a 76-character button label, naming the JSON pointer as Slack does', async () => {
    const web = client();
    const button = {
      type: 'button' as const,
      text: { type: 'plain_text' as const, text: 'x'.repeat(76) },
      action_id: 'go',
      value: '1',
    };

    const post = web.chat.postMessage({
      channel: 'C1',
      text: 't',
      blocks: [{ type: 'actions', elements: [button] }],
    });

    await expect(post).rejects.toMatchObject({
      data: {
        error: 'invalid_blocks',
        errors: ['must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]'],
      },
    });
    expect(fake.violations[0]).toMatchObject({ rule: 'button.text', limit: 75, actual: 76 });
  });

  it('retries after a 429 with Retry-After and then succeeds', async () => {
    // The WebClient sleeps Retry-After and then p-retry adds its own backoff (1 s by default);
    // minTimeout 0 drops the latter so the test costs one second, not two.
    const web = client({ retryConfig: { retries: 2, minTimeout: 0 } });
    fake.failNext('chat.postMessage', 1, { status: 429, retryAfter: 1 });
    const started = Date.now();

    const result = await web.chat.postMessage({ channel: 'C1', text: 'after the limit' });

    expect(result.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(fake.callsTo('chat.postMessage').map((c) => c.status)).toEqual([429, 200]);
    expect(fake.rateLimited).toMatchObject([{ method: 'chat.postMessage', retryAfter: 1 }]);
    expect(fake.messages).toHaveLength(1);
  });

  it('rate-limits chat.update per message, not across messages', async () => {
    let now = 10_000;
    await restart({ now: () => now });
    const web = client({ rejectRateLimitedCalls: true });
    const a = await web.chat.postMessage({ channel: 'C1', text: 'a' });
    const b = await web.chat.postMessage({ channel: 'C1', text: 'b' });
    fake.rateLimit('chat.update', { perSecond: 1, per: 'message' });

    await web.chat.update({ channel: 'C1', ts: a.ts ?? '', text: 'a1' });
    const second = web.chat.update({ channel: 'C1', ts: a.ts ?? '', text: 'a2' });
    await expect(second).rejects.toMatchObject({ code: ErrorCode.RateLimitedError, retryAfter: 1 });
    await web.chat.update({ channel: 'C1', ts: b.ts ?? '', text: 'b1' });
    now += 1001;
    await web.chat.update({ channel: 'C1', ts: a.ts ?? '', text: 'a3' });

    expect(fake.rateLimited).toMatchObject([{ method: 'chat.update', key: `C1:${a.ts}` }]);
    expect(fake.message('C1', a.ts ?? '')?.text).toBe('a3');
  });

  it('records unknown methods and answers unknown_method', async () => {
    const web = client();

    const call = web.apiCall('chat.delete', { channel: 'C1', ts: '1.0' });

    await expect(call).rejects.toMatchObject({ data: { error: 'unknown_method' } });
    expect(fake.callsTo('chat.delete')).toMatchObject([{ body: { channel: 'C1', ts: '1.0' } }]);
  });

  it('answers 404 (and records it) when the base URL lacks /api/', async () => {
    const web = new WebClient(BOT_TOKEN, {
      slackApiUrl: fake.origin,
      retryConfig: { retries: 0 },
      logLevel: LogLevel.ERROR,
    });

    const call = web.auth.test();

    await expect(call).rejects.toMatchObject({ code: ErrorCode.HTTPError, statusCode: 404 });
    expect(fake.calls).toMatchObject([{ method: '/auth.test', status: 404 }]);
  });

  it('answers the directory methods from the maps it was given', async () => {
    await restart({
      users: { U1: { name: 'ana', real_name: 'Ana Ops', is_admin: true, email: 'ana@example.com' } },
      channels: { C1: { name: 'dr-ops', is_private: true } },
      userGroups: { S1: ['U1', 'U2'] },
    });
    const web = client();

    const user = await web.users.info({ user: 'U1' });
    const channel = await web.conversations.info({ channel: 'C1' });
    const group = await web.usergroups.users.list({ usergroup: 'S1' });
    const missing = web.usergroups.users.list({ usergroup: 'S404' });

    expect(user.user).toMatchObject({
      id: 'U1',
      name: 'ana',
      is_admin: true,
      profile: { email: 'ana@example.com' },
    });
    expect(channel.channel).toMatchObject({ id: 'C1', name: 'dr-ops', is_private: true });
    expect(group.users).toEqual(['U1', 'U2']);
    await expect(missing).rejects.toMatchObject({ data: { error: 'no_such_subteam' } });
    await expect(web.users.info({ user: 'U9' })).rejects.toMatchObject({ data: { error: 'user_not_found' } });
  });

  it('answers postEphemeral, getPermalink and views.open', async () => {
    const web = client();

    const ephemeral = await web.chat.postEphemeral({ channel: 'C1', user: 'U1', text: 'only you' });
    const link = await web.chat.getPermalink({ channel: 'C1', message_ts: '1700000000.000100' });
    const view = await web.views.open({
      trigger_id: '1.2.abc',
      view: { type: 'modal', title: { type: 'plain_text', text: 'Restore' }, blocks: [] },
    });

    expect(ephemeral.message_ts).toMatch(/^1700000000\.\d{6}$/);
    expect(fake.ephemerals).toMatchObject([{ channel: 'C1', user: 'U1', text: 'only you' }]);
    expect(link.permalink).toBe('https://fake-workspace.slack.com/archives/C1/p1700000000000100');
    expect(view.view).toMatchObject({ id: 'V0FAKE1', type: 'modal' });
  });

  it('lets a test replace a method answer', async () => {
    fake.handle('conversations.info', (body) => ({
      ok: true,
      channel: { id: body.channel, is_member: false },
    }));
    const web = client();

    const result = await web.conversations.info({ channel: 'C7' });

    expect(result.channel).toEqual({ id: 'C7', is_member: false });
  });

  it('decodes JSON bodies as well as form bodies', async () => {
    const response = await fetch(`${fake.url}chat.postMessage`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${BOT_TOKEN}`, 'Content-Type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ channel: 'C1', text: 'json', blocks: [section('hi')] }),
    });

    expect(await response.json()).toMatchObject({ ok: true, channel: 'C1' });
    expect(fake.calls[0]?.body).toEqual({ channel: 'C1', text: 'json', blocks: [section('hi')] });
  });

  it('says not_authed without a token', async () => {
    const web = new WebClient(undefined, {
      slackApiUrl: fake.url,
      retryConfig: { retries: 0 },
      logLevel: LogLevel.ERROR,
    });

    const call = web.auth.test();

    await expect(call).rejects.toMatchObject({ data: { error: 'not_authed' } });
  });
});

describe('fake Slack helpers', () => {
  it('waitFor resolves with a call made after it started waiting', async () => {
    const waiting = fake.waitFor((call) => call.method === 'chat.postMessage' && call.body.text === 'late');

    await client().chat.postMessage({ channel: 'C1', text: 'late' });

    await expect(waiting).resolves.toMatchObject({ body: { channel: 'C1' } });
  });

  it('waitFor rejects listing every call it saw', async () => {
    await client().auth.test();

    const waiting = fake.waitFor((call) => call.method === 'chat.postMessage', 50);

    await expect(waiting).rejects.toThrow(
      /after 50 ms, no matching Web API call; seen 1:\n\s+#1 auth.test → 200/,
    );
  });

  it('records response_url posts and applies replace_original to the linked message', async () => {
    const posted = await client().chat.postMessage({ channel: 'C1', text: 'Restore? [Approve]' });
    const url = fake.responseUrl('r1', { channel: 'C1', ts: posted.ts ?? '' });

    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ replace_original: true, text: 'Approved by <@U1>' }),
    });

    expect(response.status).toBe(200);
    expect(fake.responses).toMatchObject([{ id: 'r1', status: 200, body: { text: 'Approved by <@U1>' } }]);
    expect(fake.message('C1', posted.ts ?? '')?.history.map((v) => v.source)).toEqual([
      'chat.postMessage',
      'response_url',
    ]);
    expect(fake.messages[0]?.text).toBe('Approved by <@U1>');
  });

  it('answers 400 invalid_blocks on a response_url post that breaks a limit', async () => {
    const blocks = [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }];

    const response = await fetch(fake.responseUrl('r2'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ response_type: 'ephemeral', blocks }),
    });

    expect(response.status).toBe(400);
    expect(await response.text()).toBe('invalid_blocks');
    expect(fake.violations).toMatchObject([{ method: 'response_url', rule: 'header.text', actual: 151 }]);
  });
});
