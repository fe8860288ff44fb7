import { describe, expect, it } from 'vitest';
import { findCommand } from '../../../commands/index.js';
import { parseArgs } from '../../../commands/parse.js';
import { storage } from '../../../commands/storage.js';
import { buildConfig } from '../../../src/config.js';

describe('storage command', () => {
  it('is registered and parses policy, policy --admin and apply', () => {
    expect(findCommand('storage')).toBe(storage);
    expect(parseArgs(storage, ['policy'])).toEqual({ ok: true, args: { action: 'policy', admin: false } });
    expect(parseArgs(storage, ['policy', '--admin'])).toEqual({
      ok: true,
      args: { action: 'policy', admin: true },
    });
    expect(parseArgs(storage, ['apply'])).toEqual({ ok: true, args: { action: 'apply', admin: false } });
  });

  it('refuses anything else with what is allowed and the usage', () => {
    expect(parseArgs(storage, ['delete'])).toEqual({
      ok: false,
      error: 'action: must be policy or apply\nusage: /dr storage policy|apply [--admin]',
    });
    expect(parseArgs(storage, ['apply', '--admin'])).toEqual({
      ok: false,
      error: 'arguments: --admin goes with policy only\nusage: /dr storage policy|apply [--admin]',
    });
  });
});

describe('objectLock in the config', () => {
  it('names the key, the bad value and what is allowed', () => {
    const bad = (objectLock: unknown) => () =>
      buildConfig({ storage: { s3: { bucket: 'company-backups', objectLock } } });

    expect(bad({ mode: 'strict' })).toThrow(
      /storage\.s3\.objectLock\.mode: "strict" — .*"governance".*"compliance"/,
    );
    expect(bad({ mode: 'compliance', days: 0 })).toThrow(/storage\.s3\.objectLock\.days: 0 — /);
    expect(bad({ mode: 'compliance', years: 1 })).toThrow(
      /storage\.s3\.objectLock: unknown key\(s\) 'years' \(allowed: mode, days\)/,
    );
  });

  it('accepts a mode with or without days', () => {
    const config = buildConfig({
      storage: { s3: { bucket: 'company-backups', objectLock: { mode: 'governance' } } },
    });

    expect(config.storage.s3?.objectLock).toEqual({ mode: 'governance' });
  });
});
