import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pingSender, pingUrl } from '../../../../src/adapters/webhook/ping.js';
import { webhookNotifier } from '../../../../src/adapters/webhook/webhook-notifier.js';
import { createLogger } from '../../../../src/log.js';
import { FakeClock } from '../../../fakes/fake-clock.js';
import { type HttpReceiver, startReceiver } from '../../../fixtures/http-receiver.js';

const SECRET = 'whsec-unit-4c1d9e';
const TOKEN_PATH = '/hooks/T0KEN-abc123';
let receiver: HttpReceiver;
let clock: FakeClock;
let logLines: string[];

const logger = () =>
  createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _e, cb) {
        logLines.push(chunk.toString('utf8'));
        cb();
      },
    }),
  });
const delivery = () => ({
  clock,
  retry: { attempts: 4, backoffMs: 1000, maxBackoffMs: 30_000 },
  timeoutMs: 2000,
});
const notice = {
  title: ':rotating_light: Scheduled backup failed: run-7',
  lines: ['uploads: upload to s3 failed: HTTP 503'],
  level: 'error' as const,
  event: 'backup-failed' as const,
  runId: 'run-7',
  assets: ['uploads'],
};

beforeEach(async () => {
  receiver = await startReceiver();
  clock = new FakeClock('2026-03-02T10:00:00Z');
  logLines = [];
});
afterEach(async () => {
  await receiver.close();
});

describe('webhook notifier', () => {
  it('POSTs the documented JSON shape, signed so that the receiver can check it with its own HMAC', async () => {
    const hook = webhookNotifier(
      { url: `${receiver.origin}${TOKEN_PATH}`, secret: SECRET },
      delivery(),
      logger(),
    );

    await hook.alert(notice);

    expect(receiver.requests).toHaveLength(1);
    const req = receiver.requests[0] as (typeof receiver.requests)[number];
    expect(req.method).toBe('POST');
    expect(req.path).toBe(TOKEN_PATH);
    expect(req.headers['content-type']).toBe('application/json');
    const payload = JSON.parse(req.body);
    expect(payload).toEqual({
      version: 1,
      source: 'drbot',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      event: 'backup-failed',
      kind: 'alert',
      level: 'error',
      title: 'Scheduled backup failed: run-7',
      lines: ['uploads: upload to s3 failed: HTTP 503'],
      assets: ['uploads'],
      runId: 'run-7',
      time: '2026-03-02T10:00:00.000Z',
    });
    expect(req.headers['x-drbot-event']).toBe('backup-failed');
    expect(req.headers['x-drbot-delivery']).toBe(payload.id);
    const ts = String(req.headers['x-drbot-timestamp']);
    expect(ts).toBe(String(Date.parse('2026-03-02T10:00:00Z') / 1000));
    const mac = createHmac('sha256', SECRET).update(`${ts}.${req.body}`).digest('hex');
    expect(req.headers['x-drbot-signature']).toBe(`sha256=${mac}`);
  });

  it('sends no signature headers without a secret, and runId null and no assets when the notice has none', async () => {
    const hook = webhookNotifier({ url: receiver.origin }, delivery(), logger());

    await hook.report({ title: 'Backup digest: 0 scheduled backup(s)', lines: [], level: 'info' });

    const req = receiver.requests[0];
    expect(req?.headers['x-drbot-signature']).toBeUndefined();
    expect(req?.headers['x-drbot-timestamp']).toBeUndefined();
    expect(JSON.parse(String(req?.body))).toMatchObject({
      event: 'notice',
      kind: 'report',
      runId: null,
      assets: [],
    });
  });

  it('retries 5xx and 429 with backoff on the clock (Retry-After honoured), same delivery id, fresh signature', async () => {
    receiver.answer(500, 503, { status: 429, headers: { 'retry-after': '7' } });
    const hook = webhookNotifier({ url: receiver.origin, secret: SECRET }, delivery(), logger());

    await hook.alert(notice);

    expect(receiver.requests).toHaveLength(4);
    expect(clock.sleeps).toEqual([1000, 2000, 7000]);
    const ids = new Set(receiver.requests.map((r) => r.headers['x-drbot-delivery']));
    expect(ids.size).toBe(1);
    const stamps = receiver.requests.map((r) => Number(r.headers['x-drbot-timestamp']));
    expect(stamps[3] as number).toBe((stamps[0] as number) + 10);
    for (const r of receiver.requests) {
      const mac = createHmac('sha256', SECRET)
        .update(`${r.headers['x-drbot-timestamp']}.${r.body}`)
        .digest('hex');
      expect(r.headers['x-drbot-signature']).toBe(`sha256=${mac}`);
    }
  });

  it('gives up after the last attempt, logs the cause without the secret or the URL path, and resolves', async () => {
    receiver.answer(500, 500, 500, 500, 500);
    const hook = webhookNotifier(
      { url: `${receiver.origin}${TOKEN_PATH}`, secret: SECRET },
      delivery(),
      logger(),
    );

    await expect(hook.alert(notice)).resolves.toBeUndefined();

    expect(receiver.requests).toHaveLength(4);
    const log = logLines.join('');
    expect(log).toMatch(/webhook not delivered/);
    expect(log).toMatch(/HTTP 500/);
    expect(log).toContain(`${receiver.origin}/…`);
    expect(log).not.toContain(SECRET);
    expect(log).not.toContain('T0KEN-abc123');
  });

  it('does not retry a 4xx refusal, and resolves when nothing listens', async () => {
    receiver.answer(404);
    const hook = webhookNotifier({ url: receiver.origin }, delivery(), logger());
    await hook.alert(notice);
    expect(receiver.requests).toHaveLength(1);

    const origin = receiver.origin;
    await receiver.close();
    const gone = webhookNotifier({ url: `${origin}${TOKEN_PATH}` }, delivery(), logger());
    await expect(gone.alert(notice)).resolves.toBeUndefined();

    expect(logLines.join('')).toMatch(/ECONNREFUSED/);
    expect(logLines.join('')).not.toContain('T0KEN-abc123');
    receiver = await startReceiver();
  });

  it('sends only the configured events', async () => {
    const hook = webhookNotifier({ url: receiver.origin, events: ['rpo-breach'] }, delivery(), logger());

    await hook.alert(notice);
    await hook.alert({ ...notice, event: 'rpo-breach', title: 'RPO breach: uploads' });

    expect(receiver.requests.map((r) => JSON.parse(r.body).event)).toEqual(['rpo-breach']);
  });
});

describe('pings', () => {
  it('appends /start and /fail to the path, keeping a query string', () => {
    expect(pingUrl('https://hc-ping.com/abc-uuid', 'start')).toBe('https://hc-ping.com/abc-uuid/start');
    expect(pingUrl('https://hc-ping.com/abc-uuid/', 'success')).toBe('https://hc-ping.com/abc-uuid');
    expect(pingUrl('https://kuma.example/api/push/tok?msg=x', 'fail')).toBe(
      'https://kuma.example/api/push/tok/fail?msg=x',
    );
  });

  it('POSTs the ping with a plain-text body, retrying a 502, and logs no token when it gives up', async () => {
    receiver.answer(502);
    const send = pingSender(delivery(), logger());

    await send(`${receiver.origin}/ping/UUID-123`, 'fail', 'drbot scheduled backup\nuploads: disk full');

    expect(receiver.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /ping/UUID-123/fail',
      'POST /ping/UUID-123/fail',
    ]);
    expect(receiver.requests[1]?.body).toBe('drbot scheduled backup\nuploads: disk full');
    receiver.answer(500, 500, 500, 500);
    await send(`${receiver.origin}/ping/UUID-123`, 'start', 'x');
    expect(logLines.join('')).toMatch(/ping not delivered/);
    expect(logLines.join('')).not.toContain('UUID-123');
  });
});
