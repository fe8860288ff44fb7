// The secret registry: what scrub masks, and how registrations end.
import { describe, expect, it } from 'vitest';
import { registerEnvironmentSecrets, registerSecret, scrub, secretCount } from '../../src/secrets.js';

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

  it('registers nothing for undefined or empty', () => {
    const before = secretCount();

    registerSecret('');
    registerSecret(undefined);

    expect(secretCount()).toBe(before);
    expect(scrub('nothing')).toBe('nothing');
  });

  it('scrubs secrets of every length, short ones too', () => {
    const forget = [registerSecret('q'), registerSecret('Zx'), registerSecret('k9!')];

    const text = scrub('pw=q pw=Zx pw=k9!');

    forget.forEach((f) => {
      f();
    });
    expect(text).toBe('pw=[REDACTED] pw=[REDACTED] pw=[REDACTED]');
  });

  it('does not mask inside the mask again when a short secret is part of it', () => {
    const forget = registerSecret('RED');

    const once = scrub('pw RED');
    const twice = scrub(once);

    forget();
    expect(once).toBe('pw [REDACTED]');
    expect(twice).toBe('pw [REDACTED]');
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

describe('registerSecret: the disposer', () => {
  it('stops masking a value once its registration is disposed of', () => {
    const forget = registerSecret('scratch-0123abcd');
    const during = scrub('password scratch-0123abcd');

    forget();

    expect(during).toBe('password [REDACTED]');
    expect(scrub('password scratch-0123abcd')).toBe('password scratch-0123abcd');
  });

  it('keeps a value registered twice until both registrations are disposed of', () => {
    const first = registerSecret('shared-value-77');
    const second = registerSecret('shared-value-77');

    first();
    first(); // a second call of the same disposer changes nothing
    const afterOne = scrub('shared-value-77');
    second();

    expect(afterOne).toBe('[REDACTED]');
    expect(scrub('shared-value-77')).toBe('shared-value-77');
  });

  it('leaves the registry as it was after 10,000 registrations that were disposed of', () => {
    const before = secretCount();

    for (let i = 0; i < 10_000; i++) registerSecret(`scratch-${i}-${'x'.repeat(8)}`)();

    expect(secretCount()).toBe(before);
    expect(scrub('scratch-42-xxxxxxxx')).toBe('scratch-42-xxxxxxxx');
  });
});
