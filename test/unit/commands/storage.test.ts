import { describe, expect, it } from 'vitest';
import { findCommand } from '../../../commands/index.js';
import { parseArgs } from '../../../commands/parse.js';
import { storage } from '../../../commands/storage.js';
import { buildConfig } from '../../../src/config.js';
import { storagePolicies } from '../../../src/engine/storage/storage.js';

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

describe('storage policy', () => {
  const run = (config: ReturnType<typeof buildConfig>, admin: boolean) =>
    storage.run({
      args: { action: 'policy', admin },
      engine: { storagePolicies: () => storagePolicies(config) },
    } as never);

  it('prints the IAM policy as JSON, the runtime one or with --admin the one for storage apply', async () => {
    const config = buildConfig({ storage: { s3: { bucket: 'company-backups' } } });

    const runtime = await run(config, false);
    const admin = await run(config, true);

    expect(runtime.ok).toBe(true);
    expect(JSON.parse(runtime.text).Statement.map((s: { Sid: string }) => s.Sid)).toEqual([
      'DrbotObjects',
      'DrbotBucketRead',
      'DrbotNeverDestroys',
    ]);
    expect(JSON.parse(admin.text).Statement[0].Action).toContain('s3:PutLifecycleConfiguration');
  });

  it('says so when there is no S3 target', async () => {
    const r = await run(buildConfig({}), false);

    expect(r).toEqual({
      ok: false,
      text: 'no S3 target is configured (storage.s3, storage.offsite): no policy to print',
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
