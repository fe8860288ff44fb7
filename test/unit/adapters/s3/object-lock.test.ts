import { describe, expect, it } from 'vitest';
import { ObjectLocks } from '../../../../src/adapters/s3/object-lock.js';
import { AppError } from '../../../../src/errors.js';

const NOW = new Date('2026-03-01T00:00:00Z');
const DAY = 24 * 3600_000;

/** A fake S3 client answering by command class; every command is recorded. */
function fakeS3(answers: Record<string, (input: Record<string, unknown>) => unknown>) {
  const sent: Array<{ command: string; input: Record<string, unknown> }> = [];
  return {
    sent,
    client: {
      async send(command: { input: Record<string, unknown> }) {
        const name = command.constructor.name;
        sent.push({ command: name, input: command.input });
        const answer = answers[name];
        if (!answer) throw new Error(`unexpected ${name}`);
        return answer(command.input);
      },
    } as never,
  };
}

const notFound = () => {
  throw Object.assign(new Error('Not Found'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } });
};

function locks(
  objectLock: { mode: 'governance' | 'compliance'; days?: number } | undefined,
  s3 = fakeS3({ HeadObjectCommand: notFound }),
) {
  return new ObjectLocks({
    client: s3.client,
    bucket: 'b',
    config: { objectLock },
    describe: 's3 s3://b/drbot',
    configKey: 'storage.s3',
    now: () => NOW,
  });
}

describe('ObjectLocks.paramsFor', () => {
  it("locks an artifact for its asset's retention and tags it with its tier", async () => {
    const l = locks({ mode: 'compliance' });

    const p = await l.paramsFor('2026/03/01/set-1/main.sql.gz', 'drbot/2026/03/01/set-1/main.sql.gz', {
      tier: 'critical',
      retention: { count: 1, unit: 'month' },
    });

    expect(p).toEqual({
      Tagging: 'drbot-tier=critical&drbot-kind=artifact',
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: new Date(NOW.getTime() + 28 * DAY), // February 2026 has 28 days
    });
  });

  it("gives the set's manifest and state snapshot the tier and longest lock of its artifacts", async () => {
    const l = locks({ mode: 'governance' });
    await l.paramsFor('2026/03/01/set-2/a.sql.gz', 'x', {
      tier: 'logs',
      retention: { count: 7, unit: 'day' },
    });
    await l.paramsFor('2026/03/01/set-2/b.tar.gz', 'x', {
      tier: 'critical',
      retention: { count: 30, unit: 'day' },
    });

    const manifest = await l.paramsFor('2026/03/01/set-2/manifest.json', 'x', undefined);
    const snapshot = await l.paramsFor('drbot-state/set-2.sqlite.gz', 'x', undefined);

    expect(manifest).toEqual({
      Tagging: 'drbot-tier=critical&drbot-kind=metadata',
      ObjectLockMode: 'GOVERNANCE',
      ObjectLockRetainUntilDate: new Date(NOW.getTime() + 30 * DAY),
    });
    expect(snapshot).toEqual(manifest);
  });

  it('keeps the lock of the version a rewritten manifest replaces, and falls back to days, then 7 days', async () => {
    const earlier = new Date('2027-01-01T00:00:00Z');
    const replaced = locks(
      { mode: 'governance' },
      fakeS3({ HeadObjectCommand: () => ({ ObjectLockRetainUntilDate: earlier }) }),
    );
    const withDays = locks({ mode: 'governance', days: 10 });
    const bare = locks({ mode: 'governance' });

    const a = await replaced.paramsFor(
      '2026/01/01/set-9/manifest.json',
      'drbot/2026/01/01/set-9/manifest.json',
      undefined,
    );
    const b = await withDays.paramsFor('2026/01/01/set-9/manifest.json', 'k', undefined);
    const c = await bare.paramsFor('2026/01/01/set-9/manifest.json', 'k', undefined);

    expect(a.ObjectLockRetainUntilDate).toEqual(earlier);
    expect(b.ObjectLockRetainUntilDate).toEqual(new Date(NOW.getTime() + 10 * DAY));
    expect(c.ObjectLockRetainUntilDate).toEqual(new Date(NOW.getTime() + 7 * DAY));
  });

  it('only tags when the target has no Object Lock', async () => {
    const p = await locks(undefined).paramsFor('2026/03/01/set-1/v.tar.gz', 'k', { tier: 'important' });

    expect(p).toEqual({ Tagging: 'drbot-tier=important&drbot-kind=artifact' });
  });
});

describe('ObjectLocks.ensureLocked', () => {
  it('sets the retain-until with PutObjectRetention when the store left it out (a multipart upload), then checks it', async () => {
    const until = new Date(NOW.getTime() + DAY);
    let stored: Date | undefined;
    const s3 = fakeS3({
      HeadObjectCommand: () => ({ VersionId: 'v1', ObjectLockRetainUntilDate: stored }),
      PutObjectRetentionCommand: (input) => {
        stored = (input.Retention as { RetainUntilDate: Date }).RetainUntilDate;
        return {};
      },
    });

    await locks({ mode: 'compliance' }, s3).ensureLocked('drbot/k', {
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: until,
    });

    expect(s3.sent.map((s) => s.command)).toEqual([
      'HeadObjectCommand',
      'PutObjectRetentionCommand',
      'HeadObjectCommand',
    ]);
    expect(s3.sent[1]?.input).toEqual({
      Bucket: 'b',
      Key: 'drbot/k',
      VersionId: 'v1',
      Retention: { Mode: 'COMPLIANCE', RetainUntilDate: until },
    });
  });

  it('fails when the object cannot be given its retain-until', async () => {
    const s3 = fakeS3({
      HeadObjectCommand: () => ({ VersionId: 'v1' }),
      PutObjectRetentionCommand: () => ({}),
    });

    const err = await locks({ mode: 'compliance' }, s3)
      .ensureLocked('drbot/k', {
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: new Date(NOW.getTime() + DAY),
      })
      .catch((e: unknown) => e);

    expect((err as Error).message).toBe(
      'drbot/k was stored without its Object Lock retain-until date 2026-03-02T00:00:00.000Z and cannot be given one',
    );
  });
});

describe('ObjectLocks.checkBucket', () => {
  const noLock = () => {
    throw Object.assign(new Error('Object Lock configuration does not exist for this bucket'), {
      name: 'ObjectLockConfigurationNotFoundError',
      $metadata: { httpStatusCode: 404 },
    });
  };

  it('refuses a bucket without Object Lock, naming the bucket, the setting and what to do', async () => {
    const l = locks({ mode: 'compliance', days: 30 }, fakeS3({ GetObjectLockConfigurationCommand: noLock }));

    const err = (await l.checkBucket().catch((e: unknown) => e)) as AppError;

    expect(err).toBeInstanceOf(AppError);
    expect(err.kind).toBe('user');
    expect(err.code).toBe('OBJECT_LOCK_MISSING');
    expect(err.message).toBe(
      's3 s3://b/drbot: storage.s3.objectLock (mode compliance, 30 days) asks for S3 Object Lock, but bucket b does not have Object Lock enabled (ObjectLockConfigurationNotFoundError); create the bucket with Object Lock enabled (aws s3api create-bucket --object-lock-enabled-for-bucket …, or enable it on a versioned bucket with put-object-lock-configuration), or remove storage.s3.objectLock',
    );
  });

  it('accepts a bucket with Object Lock enabled, and asks nothing when the target has none', async () => {
    const s3 = fakeS3({
      GetObjectLockConfigurationCommand: () => ({
        ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' },
      }),
    });
    const none = fakeS3({});

    await locks({ mode: 'governance' }, s3).checkBucket();
    await locks(undefined, none).checkBucket();

    expect(s3.sent.map((s) => s.command)).toEqual(['GetObjectLockConfigurationCommand']);
    expect(none.sent).toEqual([]);
  });

  it('does not refuse a bucket that does not answer: that is an external error for the caller to judge', async () => {
    const down = fakeS3({
      GetObjectLockConfigurationCommand: () => {
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { name: 'Error' });
      },
    });

    const err = (await locks({ mode: 'governance' }, down)
      .checkBucket()
      .catch((e: unknown) => e)) as AppError;

    expect(err.kind).toBe('external');
    expect(err.code).toBe('S3_FAILED');
  });
});
