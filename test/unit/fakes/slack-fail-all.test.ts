import { ErrorCode, LogLevel, WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeSlack, startFakeSlack } from '../../fakes/slack-api.js';

let fake: FakeSlack;

beforeEach(async () => {
  fake = await startFakeSlack();
});
afterEach(async () => {
  await fake.stop();
});

describe('fake Slack: failAll (Slack down)', () => {
  it('answers every method with the given status until lifted', async () => {
    const client = new WebClient('xoxb-t', {
      slackApiUrl: fake.url,
      logLevel: LogLevel.ERROR,
      retryConfig: { retries: 0 },
    });
    fake.failAll({ status: 500 });

    const [post, auth] = await Promise.allSettled([
      client.chat.postMessage({ channel: 'C1', text: 'x' }),
      client.auth.test(),
    ]);

    expect(post).toMatchObject({
      status: 'rejected',
      reason: { code: ErrorCode.HTTPError, statusCode: 500 },
    });
    expect(auth).toMatchObject({
      status: 'rejected',
      reason: { code: ErrorCode.HTTPError, statusCode: 500 },
    });
    expect(fake.calls.map((c) => c.status)).toEqual([500, 500]);
    fake.failAll(undefined);
    await expect(client.auth.test()).resolves.toMatchObject({ ok: true });
  });
});
