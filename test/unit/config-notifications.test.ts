import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildNotifications } from '../../src/adapters/webhook/notifications.js';
import { buildConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { FakeClock } from '../fakes/fake-clock.js';

const deps = (lines: string[] = []) => ({
  clock: new FakeClock(),
  log: createLogger({
    destination: new Writable({
      write(c: Buffer, _e, cb) {
        lines.push(c.toString('utf8'));
        cb();
      },
    }),
  }),
  inventory: async () => {
    throw new Error('not needed');
  },
});

describe('notifications config', () => {
  it('has no webhooks and no pings by default, and retries 4 times from 1 s', () => {
    const config = buildConfig({});

    expect(config.notifications).toEqual({
      webhooks: [],
      pings: [],
      retry: { attempts: 4, backoff: '1s', maxBackoff: '30s' },
      timeout: '10s',
    });
  });

  it('accepts webhooks by url or urlEnv, with a secret and events, and pings by tier or schedule', () => {
    const config = buildConfig({
      notifications: {
        webhooks: [
          {
            url: 'https://hooks.example.com/drbot',
            secretEnv: 'HOOK_SECRET',
            events: ['backup-failed', 'rpo-breach'],
          },
          { urlEnv: 'HOOK_URL' },
        ],
        pings: [
          { tier: 'critical', url: 'https://hc-ping.com/uuid' },
          { schedule: '0 2 * * *', urlEnv: 'PING_URL' },
        ],
        retry: { attempts: 2, backoff: '2s', maxBackoff: '5s' },
        timeout: '3s',
      },
    });

    expect(config.notifications.webhooks[0]?.events).toEqual(['backup-failed', 'rpo-breach']);
    expect(config.notifications.pings[1]).toEqual({ schedule: '0 2 * * *', urlEnv: 'PING_URL' });
  });

  it.each([
    [{ webhooks: [{}] }, /notifications\.webhooks\.0\.url: .*give exactly one of url .* or urlEnv/],
    [
      { webhooks: [{ url: 'https://a.example/x', urlEnv: 'X' }] },
      /notifications\.webhooks\.0\.url: .*give exactly one of url/,
    ],
    [
      { webhooks: [{ url: 'ftp://a.example/x' }] },
      /notifications\.webhooks\.0\.url: "ftp:\/\/a.example\/x" — must be an http:\/\/ or https:\/\/ URL/,
    ],
    [{ webhooks: [{ url: 'not a url' }] }, /notifications\.webhooks\.0\.url: "not a url" — must be an http/],
    [
      { webhooks: [{ url: 'https://a.example', secretEnv: 'my secret' }] },
      /notifications\.webhooks\.0\.secretEnv: "my secret" — must be an environment variable name/,
    ],
    [
      { webhooks: [{ url: 'https://a.example', events: ['backup-exploded'] }] },
      /notifications\.webhooks\.0\.events\.0: "backup-exploded" — .*backup-failed.*rpo-breach/,
    ],
    [{ webhooks: [{ url: 'https://a.example', events: [] }] }, /notifications\.webhooks\.0\.events: \[\]/],
    [
      { webhooks: [{ url: 'https://a.example', header: 'x' }] },
      /notifications\.webhooks\.0: unknown key\(s\) 'header' \(allowed: url, urlEnv, secretEnv, events\)/,
    ],
    [
      { pings: [{ url: 'https://hc-ping.com/u' }] },
      /notifications\.pings\.0\.tier: .*give exactly one of tier .* or schedule/,
    ],
    [
      { pings: [{ tier: 'critical', schedule: '0 2 * * *', url: 'https://hc-ping.com/u' }] },
      /notifications\.pings\.0\.tier: .*give exactly one of tier/,
    ],
    [
      { pings: [{ schedule: 'every day', url: 'https://hc-ping.com/u' }] },
      /notifications\.pings\.0\.schedule: "every day" — must be a 5-field cron/,
    ],
    [
      { pings: [{ tier: 'gold', url: 'https://hc-ping.com/u' }] },
      /notifications\.pings\.0\.tier: "gold" — must be one of the configured tiers: critical, important/,
    ],
    [{ retry: { attempts: 0 } }, /notifications\.retry\.attempts: 0 — /],
    [{ retry: { attempts: 11 } }, /notifications\.retry\.attempts: 11 — /],
    [{ retry: { backoff: 'soon' } }, /notifications\.retry\.backoff: "soon" — must be/],
    [{ timeout: '30d' }, /notifications\.timeout: "30d" — must be at most 24d/],
    [
      { webhook: [] },
      /notifications: unknown key\(s\) 'webhook' \(allowed: webhooks, pings, retry, timeout\)/,
    ],
  ])('refuses %j, naming the key and what is allowed', (notifications, message) => {
    expect(() => buildConfig({ notifications })).toThrow(message);
  });
});

describe('notification secrets from the environment', () => {
  it('stops start-up naming the key and the variable when a variable is unset, never a value', () => {
    const config = buildConfig({
      notifications: {
        webhooks: [{ url: 'https://a.example/h', secretEnv: 'HOOK_SECRET' }],
        pings: [{ tier: 'critical', urlEnv: 'PING_URL' }],
      },
    });

    const got = () => buildNotifications(config, { PING_URL: 'https://hc-ping.com/zz' }, deps());

    expect(got).toThrow(/notifications\.webhooks\.0\.secretEnv: environment variable HOOK_SECRET is not set/);
    expect(() => buildNotifications(config, { HOOK_SECRET: 's3cr3t-value' }, deps())).toThrow(
      /notifications\.pings\.0\.urlEnv: environment variable PING_URL is not set/,
    );
  });

  it('refuses a urlEnv variable that does not hold an http(s) URL, without showing what it holds', () => {
    const config = buildConfig({ notifications: { webhooks: [{ urlEnv: 'HOOK_URL' }] } });

    const got = () => buildNotifications(config, { HOOK_URL: 'xoxb-token-not-a-url' }, deps());

    expect(got).toThrow(
      /notifications\.webhooks\.0\.urlEnv: HOOK_URL does not hold an http:\/\/ or https:\/\/ URL/,
    );
    expect(got).not.toThrow(/xoxb-token-not-a-url/);
  });

  it('registers the secret and the URL from the environment, so a log line that has them shows neither', () => {
    const lines: string[] = [];
    const d = deps(lines);
    const config = buildConfig({
      notifications: { webhooks: [{ urlEnv: 'HOOK_URL_2', secretEnv: 'HOOK_SECRET_2' }] },
    });

    buildNotifications(
      config,
      { HOOK_URL_2: 'https://hooks.example/T0KEN-zz9', HOOK_SECRET_2: 'whsec-99xq' },
      d,
    );
    d.log.warn({ err: 'posting to https://hooks.example/T0KEN-zz9 with whsec-99xq' }, 'oops');
    d.log.flush();

    expect(lines.join('')).toMatch(/oops/);
    expect(lines.join('')).not.toMatch(/T0KEN-zz9|whsec-99xq/);
  });
});
