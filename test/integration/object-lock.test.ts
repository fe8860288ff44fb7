// S3 Object Lock and lifecycle rules against moto: locked writes, version deletes refused, retention, storage apply.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import {
  DeleteObjectCommand,
  GetBucketLifecycleConfigurationCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketLifecycleConfigurationCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Target } from '../../src/adapters/s3/s3-target.js';
import { setDirectory } from '../../src/domain/layout.js';
import { AppError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { drbot, workspace } from '../fixtures/cli.js';
import { docker, removeByLabel } from '../fixtures/docker.js';
import { type EngineHarness, engineHarness } from '../fixtures/engine.js';
import { BUSYBOX_IMAGE } from '../fixtures/images.js';
import { MOTO_ENV, type MotoServer, startMoto } from '../fixtures/moto.js';

const LABEL = 'drbot.fixture=object-lock';
const DAY = 24 * 3600 * 1000;
const MiB = 1024 * 1024;
let moto: MotoServer;

beforeAll(async () => {
  removeByLabel(LABEL);
  moto = await startMoto();
});

afterAll(() => {
  moto?.stop();
  removeByLabel(LABEL);
});

function s3Config(bucket: string, extra: Record<string, unknown> = {}) {
  return {
    bucket,
    prefix: 'drbot',
    endpoint: moto.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    storageClass: 'STANDARD_IA',
    ...extra,
  };
}

/** Every stored version under the prefix, with its lock and tags as S3 reports them. */
async function storedVersions(bucket: string) {
  const res = await moto.client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'drbot/' }));
  return Promise.all(
    (res.Versions ?? []).map(async (v) => {
      const ref = { Bucket: bucket, Key: v.Key as string, VersionId: v.VersionId as string };
      const head = await moto.client.send(new HeadObjectCommand(ref));
      const tags = await moto.client.send(new GetObjectTaggingCommand(ref));
      return {
        key: (v.Key as string).slice('drbot/'.length),
        versionId: v.VersionId as string,
        mode: head.ObjectLockMode,
        until: head.ObjectLockRetainUntilDate,
        tags: Object.fromEntries((tags.TagSet ?? []).map((t) => [t.Key, t.Value])),
      };
    }),
  );
}

describe('backups to an Object Lock bucket', () => {
  let h: EngineHarness;
  let bucket: string;
  const started = Date.now();
  const sets: Array<{ id: string; at: Date }> = [];

  beforeAll(async () => {
    docker([
      'volume',
      'create',
      '--label',
      LABEL,
      '--label',
      'tier=important',
      '--label',
      'retention=2days',
      'lock-vol',
    ]);
    docker(['run', '--rm', '-v', 'lock-vol:/a', BUSYBOX_IMAGE, 'sh', '-c', 'echo locked > /a/f']);
    bucket = await moto.bucket('drbot-locked', { objectLock: true });
    h = engineHarness({
      config: {
        storage: {
          local: { dir: './backups' },
          s3: s3Config(bucket, { objectLock: { mode: 'governance', days: 30 } }),
        },
      },
    });
    Object.assign(process.env, MOTO_ENV);
  });

  afterAll(() => h?.app.close());

  it('writes every object (artifact, SHA256SUMS, manifest, state snapshot) with its retain-until date and tier tag', async () => {
    const o = await h.app.engine.backup({ target: 'lock-vol', requester: 'test' });
    expect(o.status, o.failures.join('; ')).toBe('succeeded');
    sets.push({ id: o.setId, at: h.clock.now() });

    const stored = await storedVersions(bucket);

    const dir = setDirectory(o.setId, sets[0]?.at as Date);
    expect(stored.map((s) => s.key).sort()).toEqual(
      [
        `${dir}/SHA256SUMS`,
        `${dir}/lock-vol.tar.gz`,
        `${dir}/manifest.json`,
        `drbot-state/${o.setId}.sqlite.gz`,
      ].sort(),
    );
    for (const s of stored) {
      expect(s.mode, s.key).toBe('GOVERNANCE');
      // objectLock.days: 30, from the moment of the write.
      expect(s.until?.getTime(), s.key).toBeGreaterThanOrEqual(started + 30 * DAY - 5_000);
      expect(s.until?.getTime(), s.key).toBeLessThanOrEqual(Date.now() + 30 * DAY + 5_000);
      expect(s.tags['drbot-tier'], s.key).toBe('important');
    }
    expect(stored.find((s) => s.key.endsWith('.tar.gz'))?.tags['drbot-kind']).toBe('artifact');
    expect(stored.find((s) => s.key.endsWith('manifest.json'))?.tags['drbot-kind']).toBe('metadata');
  });

  it("refuses to delete a stored version with drbot's credentials; a plain delete only hides it", async () => {
    const [artifact] = (await storedVersions(bucket)).filter((s) => s.key.endsWith('.tar.gz'));
    const ref = { Bucket: bucket, Key: `drbot/${artifact?.key}`, VersionId: artifact?.versionId };

    const versionDelete = await moto.client.send(new DeleteObjectCommand(ref)).catch((e: unknown) => e);
    const target = new S3Target(
      's3',
      s3Config(bucket, { objectLock: { mode: 'governance' } }) as never,
      createLogger({ level: 'silent' }),
    );
    await target.delete(artifact?.key as string);

    expect((versionDelete as Error).name).toBe('AccessDenied');
    const after = await storedVersions(bucket);
    expect(after.map((s) => s.versionId)).toContain(artifact?.versionId);
    expect(await target.lockedUntil(artifact?.key as string)).toBeUndefined(); // under a delete marker now
  });

  it('retention skips a locked set and reports when it becomes deletable', async () => {
    // The set is past its 2 days, but locked for 30: the next backup's prune keeps it.
    h.clock.set(new Date(Date.now() + 5 * DAY));
    const fresh = await h.app.engine.backup({ target: 'lock-vol', requester: 'test' });
    expect(fresh.status, fresh.failures.join('; ')).toBe('succeeded');
    // The first set's artifact was hidden by the test above; a third, locked, set is the one checked.
    h.clock.set(new Date(Date.now() + 10 * DAY));
    const third = await h.app.engine.backup({ target: 'lock-vol', requester: 'test' });
    expect(third.status, third.failures.join('; ')).toBe('succeeded');

    const report = third.prune as { deleted: Array<{ setId: string }>; locked?: string[] };

    expect(report.deleted.map((d) => d.setId)).not.toContain(fresh.setId);
    expect(report.locked?.join('\n')).toMatch(
      new RegExp(
        `${fresh.setId}/lock-vol\\.tar\\.gz: locked on s3 until \\S+; deletable from \\d{4}-\\d\\d-\\d\\dT`,
      ),
    );
    expect(h.app.engine.getSet(fresh.setId)?.artifacts[0]?.status).toBe('complete');
    const events = h.app.engine.run(third.run.id).events.map((e) => e.message);
    expect(events.some((m) => m.startsWith(`kept ${fresh.setId}/lock-vol.tar.gz: locked on s3 until`))).toBe(
      true,
    );
  });

  it('locks a multipart upload too (the retain-until is checked after the upload, and set where the store left it out)', async () => {
    const target = new S3Target(
      's3',
      s3Config(bucket, { objectLock: { mode: 'compliance' } }) as never,
      createLogger({ level: 'silent' }),
    );
    const w = await target.write('2020/01/01/set-mp/big.sql.gz', undefined, {
      tier: 'critical',
      retention: { count: 3, unit: 'day' },
    });
    w.stream.end(randomBytes(12 * MiB));
    await w.commit();

    const until = await target.lockedUntil('2020/01/01/set-mp/big.sql.gz');
    const head = await moto.client.send(
      new HeadObjectCommand({ Bucket: bucket, Key: 'drbot/2020/01/01/set-mp/big.sql.gz' }),
    );

    expect(until?.getTime()).toBeGreaterThan(Date.now() + 3 * DAY - 60_000);
    expect(head.ObjectLockMode).toBe('COMPLIANCE');
    const versionDelete = await moto.client
      .send(
        new DeleteObjectCommand({
          Bucket: bucket,
          Key: 'drbot/2020/01/01/set-mp/big.sql.gz',
          VersionId: head.VersionId,
        }),
      )
      .catch((e: unknown) => e);
    expect((versionDelete as Error).name).toBe('AccessDenied');
  });
});

describe('a bucket without Object Lock', () => {
  it('is refused at start when the config asks for Object Lock, naming the bucket and the setting', async () => {
    const bucket = await moto.bucket('drbot-unlocked');
    const ws = workspace({
      extra: {
        storage: {
          local: { dir: './backups' },
          s3: s3Config(bucket, { objectLock: { mode: 'compliance', days: 30 } }),
        },
      },
    });

    const r = await drbot(ws, ['status'], MOTO_ENV);

    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `s3 s3://${bucket}/drbot: storage.s3.objectLock (mode compliance, 30 days) asks for S3 Object Lock, but bucket ${bucket} does not have Object Lock enabled`,
    );
    expect(r.stdout).toBe('');
  });

  it('is refused by a backup too, before anything is written', async () => {
    const bucket = await moto.bucket('drbot-unlocked');
    const target = new S3Target(
      'offsite-2',
      s3Config(bucket, { objectLock: { mode: 'governance' } }) as never,
      createLogger({ level: 'silent' }),
    );

    const err = await target.check().catch((e: unknown) => e);

    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('OBJECT_LOCK_MISSING');
    expect((err as AppError).message).toContain('storage.offsite.1.objectLock (mode governance)');
    expect(await target.list('')).toEqual([]);
  });
});

describe('an artifact in an archive storage class', () => {
  it('cannot be read until its S3 restore is done; thaw starts it, says the wait, and the read then works', async () => {
    const bucket = await moto.bucket('drbot-archive');
    const target = new S3Target(
      's3',
      s3Config(bucket, { storageClass: 'GLACIER' }) as never,
      createLogger({ level: 'silent' }),
      { pollMs: 100 },
    );
    await target.put('2020/01/01/set-old/main.sql.gz', 'archived bytes');
    const before = await target.read('2020/01/01/set-old/main.sql.gz').catch((e: unknown) => e);
    const notes: string[] = [];

    await target.thaw('2020/01/01/set-old/main.sql.gz', {
      deadline: new Date(Date.now() + 60_000),
      notify: (m) => notes.push(m),
    });

    expect((before as Error).message).toMatch(/InvalidObjectState|not valid for the object's storage class/);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(
      /^drbot\/2020\/01\/01\/set-old\/main\.sql\.gz is in GLACIER: restore request sent \(Standard retrieval, readable for 1 day\(s\)\); expected wait 3–5 hours/,
    );
    const chunks: Buffer[] = [];
    for await (const c of await target.read('2020/01/01/set-old/main.sql.gz')) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('archived bytes');
  });
});

describe('a restore whose only good copy is archived', () => {
  it('starts the S3 restore, tells the run the expected wait, and restores the volume once the copy is readable', async () => {
    docker([
      'volume',
      'create',
      '--label',
      LABEL,
      '--label',
      'tier=important',
      '--label',
      'retention=7days',
      'arch-vol',
    ]);
    docker(['run', '--rm', '-v', 'arch-vol:/a', BUSYBOX_IMAGE, 'sh', '-c', 'echo original > /a/f']);
    const bucket = await moto.bucket('drbot-glacier');
    const ws = workspace({
      extra: { storage: { local: { dir: './backups' }, s3: s3Config(bucket, { storageClass: 'GLACIER' }) } },
    });
    const backup = await drbot(ws, ['backup', 'arch-vol'], MOTO_ENV);
    expect(backup.code, backup.stderr).toBe(0);
    // The local copy is lost: the one in GLACIER is all there is.
    const local = execFileSync('find', [ws.backupDir, '-name', 'arch-vol.tar.gz']).toString().trim();
    expect(local).not.toBe('');
    rmSync(local);
    docker(['run', '--rm', '-v', 'arch-vol:/a', BUSYBOX_IMAGE, 'sh', '-c', 'echo changed > /a/f']);

    const restore = await drbot(ws, ['restore', 'arch-vol', '--yes'], MOTO_ENV);

    expect(restore.code, `${restore.stdout}\n${restore.stderr}`).toBe(0);
    expect(restore.stderr).toMatch(
      /arch-vol: s3: drbot\/\S+\/arch-vol\.tar\.gz is in GLACIER: restore request sent \(Standard retrieval, readable for 1 day\(s\)\); expected wait 3–5 hours/,
    );
    expect(docker(['run', '--rm', '-v', 'arch-vol:/a', BUSYBOX_IMAGE, 'cat', '/a/f']).trim()).toBe(
      'original',
    );
  });
});

describe('drbot storage apply', () => {
  it("writes the lifecycle rules per tier, keeps the bucket's other rules, and /dr policy shows them", async () => {
    const bucket = await moto.bucket('drbot-lifecycle', { objectLock: true });
    await moto.client.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: bucket,
        LifecycleConfiguration: {
          Rules: [
            { ID: 'other-tool', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 7 } },
          ],
        },
      }),
    );
    const ws = workspace({
      extra: {
        storage: {
          local: { dir: './backups' },
          s3: s3Config(bucket, { objectLock: { mode: 'compliance' } }),
        },
      },
    });

    const r = await drbot(ws, ['storage', 'apply'], MOTO_ENV);

    expect(r.code, r.stderr).toBe(0);
    const rules =
      (await moto.client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules ?? [];
    const byId = Object.fromEntries(rules.map((x) => [x.ID, x]));
    expect(Object.keys(byId).sort()).toEqual([
      'drbot-drbot-housekeeping',
      'drbot-drbot-tier-critical',
      'drbot-drbot-tier-important',
      'other-tool',
    ]);
    for (const tier of ['critical', 'important']) {
      const rule = byId[`drbot-drbot-tier-${tier}`];
      expect(rule?.Status).toBe('Enabled');
      expect(rule?.Filter?.And?.Prefix).toBe('drbot/');
      expect(rule?.Filter?.And?.Tags).toEqual([
        { Key: 'drbot-tier', Value: tier },
        { Key: 'drbot-kind', Value: 'artifact' },
      ]);
      expect(rule?.Transitions).toEqual([
        { Days: 30, StorageClass: 'GLACIER' },
        { Days: 90, StorageClass: 'DEEP_ARCHIVE' },
      ]);
    }
    // logs keeps sets 90 days: GLACIER after 30 would be billed for 90 more; temporary is not backed up.
    expect(byId['drbot-drbot-housekeeping']?.AbortIncompleteMultipartUpload).toEqual({
      DaysAfterInitiation: 1,
    });
    expect(byId['drbot-drbot-housekeeping']?.NoncurrentVersionExpiration?.NoncurrentDays).toBe(1);
    expect(byId['other-tool']?.Expiration).toEqual({ Days: 7 });
    expect(r.stdout).toContain(
      'drbot-drbot-tier-critical: drbot/ [drbot-tier=critical,drbot-kind=artifact] → GLACIER after 30d; → DEEP_ARCHIVE after 90d',
    );

    const policy = await drbot(ws, ['policy'], MOTO_ENV);

    expect(policy.code, policy.stderr).toBe(0);
    expect(policy.stdout).toContain('tier critical: GLACIER after 30d, DEEP_ARCHIVE after 90d');
    expect(policy.stdout).toContain('tier logs: stays in its storage class');
    expect(policy.stdout).toContain(
      `s3 s3://${bucket}/drbot: Object Lock compliance, each asset's retention`,
    );
    expect(policy.stdout).toContain('drbot-drbot-housekeeping: drbot/ abort incomplete uploads after 1d');
  });
});
