// Config rules that guard access and limits: Slack ids, approvers, timers, the metrics listener.
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  buildConfig,
  DEFAULT_METRICS_LISTEN,
  loadConfig,
  MAX_TIMER_MS,
  parseListenAddress,
  requireSlackAccess,
} from '../../src/config.js';
import { AppError } from '../../src/errors.js';

function configErrorOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('CONFIG_INVALID');
    return err as AppError;
  }
  throw new Error('expected a CONFIG_INVALID error, nothing was thrown');
}

describe('slack.approvalTimeout: within what a timer can wait', () => {
  it('accepts 24 days, the longest whole-day span under 2^31-1 ms', () => {
    const config = buildConfig({ slack: { approvalTimeout: '24d' } });

    expect(config.slack.approvalTimeout).toBe('24d');
    expect(24 * 86_400_000).toBeLessThanOrEqual(MAX_TIMER_MS);
  });

  it.each(['25d', '4w', '600h'])('refuses %s, naming the key and the limit', (value) => {
    const err = configErrorOf(() => buildConfig({ slack: { approvalTimeout: value } }));

    expect(err.message).toContain(`slack.approvalTimeout: "${value}" — must be at most 24d`);
    expect(err.message).toContain('2^31-1 ms');
  });
});

describe('slack.approvers and slack.operators: Slack ids only', () => {
  it('accepts user ids and user-group ids', () => {
    const config = buildConfig({
      slack: { approvers: ['U0APPROVER', 'W012ABC', 'S0GROUP'], operators: ['U0OPS'] },
    });

    expect(config.slack.approvers).toEqual(['U0APPROVER', 'W012ABC', 'S0GROUP']);
  });

  it.each([['@alice'], ['alice'], ['<@U123>'], ['u0lower'], [''], ['C0CHANNEL']])(
    'refuses %j as an approver or an operator',
    (value) => {
      const a = configErrorOf(() => buildConfig({ slack: { approvers: [value] } }));
      const o = configErrorOf(() => buildConfig({ slack: { operators: ['U0OK', value] } }));

      expect(a.message).toContain(`slack.approvers.0: ${JSON.stringify(value)} — must be a Slack user id`);
      expect(o.message).toContain(`slack.operators.1: ${JSON.stringify(value)} — must be a Slack user id`);
    },
  );

  it('refuses an approvers value that is not a list', () => {
    const err = configErrorOf(() => buildConfig({ slack: { approvers: 'U0APPROVER' } }));

    expect(err.message).toContain('slack.approvers');
  });
});

describe('requireSlackAccess: what the Slack app needs to start', () => {
  it('refuses an empty approvers list, saying how to fill it', () => {
    const config = buildConfig({ slack: { approvers: [] } }, '/etc/drbot/drbot.yaml');

    const err = configErrorOf(() => requireSlackAccess(config));

    expect(err.message).toContain('in /etc/drbot/drbot.yaml');
    expect(err.message).toContain('slack.approvers: [] — must list at least one Slack user id');
    expect(err.message).toContain('approvers: [U0123ABCD]');
  });

  it('lets the app start with an approver even while no operators are configured', () => {
    const config = buildConfig({ slack: { approvers: ['U0APPROVER'] } });

    expect(() => requireSlackAccess(config)).not.toThrow();
  });
});

describe('slack.teamId and slack.appId', () => {
  it('are optional and unset by default', () => {
    const config = buildConfig({});

    expect(config.slack.teamId).toBeUndefined();
    expect(config.slack.appId).toBeUndefined();
  });

  it('take a team (or org) id and an app id', () => {
    const config = buildConfig({ slack: { teamId: 'T0FAKE', appId: 'A0FAKE' } });

    expect(config.slack).toMatchObject({ teamId: 'T0FAKE', appId: 'A0FAKE' });
    expect(buildConfig({ slack: { teamId: 'E0ORG' } }).slack.teamId).toBe('E0ORG');
  });

  it('refuse values of the wrong shape', () => {
    const err = configErrorOf(() => buildConfig({ slack: { teamId: 'fake-workspace', appId: 'T0FAKE' } }));

    expect(err.message).toContain('slack.teamId: "fake-workspace" — must be a Slack team id');
    expect(err.message).toContain('slack.appId: "T0FAKE" — must be a Slack app id');
  });
});

describe('metrics.listen', () => {
  it('is unset by default; the default address is on loopback', () => {
    expect(buildConfig({}).metrics.listen).toBeUndefined();
    expect(parseListenAddress(DEFAULT_METRICS_LISTEN)).toEqual({ host: '127.0.0.1', port: 9464 });
  });

  it.each([
    ['127.0.0.1:9464', { host: '127.0.0.1', port: 9464 }],
    ['0.0.0.0:9100', { host: '0.0.0.0', port: 9100 }],
    ['[::1]:9464', { host: '::1', port: 9464 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
  ])('parses %s', (text, address) => {
    expect(buildConfig({ metrics: { listen: text } }).metrics.listen).toBe(text);
    expect(parseListenAddress(text)).toEqual(address);
  });

  it.each(['9464', ':9464', '127.0.0.1:99999', 'http://127.0.0.1:9464', '::1:9464'])('refuses %s', (text) => {
    const err = configErrorOf(() => buildConfig({ metrics: { listen: text } }));

    expect(err.message).toContain(`metrics.listen: ${JSON.stringify(text)} — must be host:port`);
  });

  it('refuses an unknown key, listing the allowed one', () => {
    const err = configErrorOf(() => buildConfig({ metrics: { port: 9464 } }));

    expect(err.message).toContain("metrics: unknown key(s) 'port' (allowed: listen)");
  });
});

describe('loadConfig: environment overrides', () => {
  let dir: string;

  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'drbot-config-')));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets DRBOT_METRICS_LISTEN win over metrics.listen', () => {
    const path = join(dir, 'drbot.yaml');
    writeFileSync(path, 'metrics: { listen: "127.0.0.1:9464" }\n');

    const config = loadConfig({ DRBOT_CONFIG: path, DRBOT_METRICS_LISTEN: '0.0.0.0:9100' });

    expect(config.metrics.listen).toBe('0.0.0.0:9100');
  });

  it('refuses a malformed DRBOT_METRICS_LISTEN, naming the variable', () => {
    const path = join(dir, 'drbot.yaml');
    writeFileSync(path, '{}\n');

    const err = configErrorOf(() => loadConfig({ DRBOT_CONFIG: path, DRBOT_METRICS_LISTEN: 'nine' }));

    expect(err.message).toContain('DRBOT_METRICS_LISTEN: "nine" — must be host:port');
  });

  it('keeps docker.helperImage from the file when DOCKER_HOST wins over docker.host', () => {
    const path = join(dir, 'drbot.yaml');
    writeFileSync(path, 'docker: { host: "unix:///x.sock", helperImage: "busybox:1" }\n');

    const config = loadConfig({ DRBOT_CONFIG: path, DOCKER_HOST: 'tcp://10.0.0.5:2376' });

    expect(config.docker).toEqual({ host: 'tcp://10.0.0.5:2376', helperImage: 'busybox:1' });
  });
});
