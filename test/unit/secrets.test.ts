import { describe, expect, it } from 'vitest';
import { registerEnvironmentSecrets, registerSecret, scrub } from '../../src/secrets.js';

// The registry is process-wide: every test uses its own values so tests stay independent.
describe('scrub', () => {
  it('replaces every occurrence of a registered value', () => {
    registerSecret('s3cr3t-one');

    const text = scrub('user=root password=s3cr3t-one again:s3cr3t-one.');

    expect(text).toBe('user=root password=[REDACTED] again:[REDACTED].');
  });

  it('leaves text without secrets unchanged', () => {
    registerSecret('s3cr3t-two');

    const text = scrub('nothing to hide here');

    expect(text).toBe('nothing to hide here');
  });

  it('scrubs every registered value, not only the last one', () => {
    registerSecret('first-Secret');
    registerSecret('second-Secret');

    const text = scrub('a first-Secret b second-Secret');

    expect(text).toBe('a [REDACTED] b [REDACTED]');
  });

  it('does not register values shorter than four characters, nor undefined or empty', () => {
    registerSecret('abc');
    registerSecret('');
    registerSecret(undefined);

    const text = scrub('abc is a word');

    expect(text).toBe('abc is a word');
  });

  it('registers a value of exactly four characters', () => {
    registerSecret('Qz9!');

    const text = scrub('pw Qz9!');

    expect(text).toBe('pw [REDACTED]');
  });
});

describe('scrub: secrets in escaped or overlapping forms', () => {
  it('masks a secret with quotes and backslashes as it appears inside JSON', () => {
    registerSecret('pa"ss\\word-x1');

    const text = scrub(JSON.stringify({ password: 'pa"ss\\word-x1' }));

    expect(text).toBe('{"password":"[REDACTED]"}');
  });

  it('masks a longer secret whole even when a shorter registered secret is part of it', () => {
    registerSecret('zq7k');
    registerSecret('zq7kLONGER-secret');

    expect(scrub('key zq7kLONGER-secret and zq7k')).toBe('key [REDACTED] and [REDACTED]');
  });
});

describe('registerEnvironmentSecrets', () => {
  it('registers the Slack and AWS secrets from the environment, and nothing else', () => {
    registerEnvironmentSecrets({
      SLACK_BOT_TOKEN: 'xoxb-env-token',
      SLACK_SIGNING_SECRET: 'signing-env-secret',
      SLACK_APP_TOKEN: 'xapp-env-token',
      AWS_SECRET_ACCESS_KEY: 'aws-env-secret-key',
      AWS_SESSION_TOKEN: 'aws-env-session',
      AWS_ACCESS_KEY_ID: 'AKIA-env-public-id',
      HOME: '/home/drbot-env',
    });

    const text = scrub(
      'xoxb-env-token signing-env-secret xapp-env-token aws-env-secret-key aws-env-session AKIA-env-public-id /home/drbot-env',
    );

    expect(text).toBe(
      '[REDACTED] [REDACTED] [REDACTED] [REDACTED] [REDACTED] AKIA-env-public-id /home/drbot-env',
    );
  });

  it('skips variables that are not set', () => {
    registerEnvironmentSecrets({});

    const text = scrub('undefined');

    expect(text).toBe('undefined');
  });
});
