import { generateIdentity, identityToRecipient } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config.js';
import { isAgeRecipient, parseIdentityFile } from '../../src/domain/age-keys.js';

const RECIPIENT = 'age13jftlytzgwgpwuac6cpwccsmjhz7jwsyg5w2qv3ems884g0nr9dq635q9p';

describe('encryption config', () => {
  it('is off by default', () => {
    const config = buildConfig({});

    expect(config.encryption).toEqual({ recipients: [], tool: 'auto' });
  });

  it('accepts several X25519 recipients, an identity file and a tool', async () => {
    const other = await identityToRecipient(await generateIdentity());

    const config = buildConfig({
      encryption: { recipients: [RECIPIENT, other], identityFile: '/run/secrets/age', tool: 'js' },
    });

    expect(config.encryption.recipients).toEqual([RECIPIENT, other]);
    expect(config.encryption.identityFile).toBe('/run/secrets/age');
  });

  it.each([
    ['a typo (bad checksum)', `${RECIPIENT.slice(0, -1)}q`],
    ['a truncated key', RECIPIENT.slice(0, 40)],
    ['an ssh key', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx'],
    ['upper case', RECIPIENT.toUpperCase()],
  ])('refuses %s, naming the key, the value and what is allowed', (_what, value) => {
    const got = () => buildConfig({ encryption: { recipients: [value] } });

    expect(got).toThrow(
      /encryption\.recipients\.0: .* must be an age X25519 public key: "age1" followed by 58/,
    );
    expect(got).toThrow(JSON.stringify(value));
  });

  it('refuses a private key in recipients without echoing it', async () => {
    const secret = await generateIdentity();

    let message = '';
    try {
      buildConfig({ encryption: { recipients: [secret] } });
    } catch (err) {
      message = (err as Error).message;
    }

    expect(message).toMatch(/encryption\.recipients\.0: \(an age private key, not shown\)/);
    expect(message).not.toContain(secret);
    expect(message).not.toContain(secret.slice(16, 40));
  });

  it('refuses unknown keys and tools, naming what is allowed', () => {
    expect(() => buildConfig({ encryption: { recipient: [RECIPIENT] } })).toThrow(
      /encryption: unknown key\(s\) 'recipient' \(allowed: recipients, identityFile, tool\)/,
    );
    expect(() => buildConfig({ encryption: { recipients: [RECIPIENT], tool: 'openssl' } })).toThrow(
      /encryption\.tool: "openssl"/,
    );
  });
});

describe('age keys', () => {
  it('tells X25519 recipients from post-quantum ones, which Debian age cannot use', () => {
    expect(isAgeRecipient(RECIPIENT)).toBe(true);
    expect(isAgeRecipient(`age1pq1${'q'.repeat(100)}`)).toBe(false);
  });

  it('reads identity files as age-keygen writes them', async () => {
    const key = await generateIdentity();

    const got = parseIdentityFile(`# created: now\n# public key: ${RECIPIENT}\n\n${key}\r\nnot-a-key\n`);

    expect(got).toEqual({ identities: [key], badLines: [5] });
  });
});
