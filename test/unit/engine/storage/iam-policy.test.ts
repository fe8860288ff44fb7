import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../../src/config.js';
import { RUNTIME_DENIED } from '../../../../src/engine/storage/iam-policy.js';
import { storagePolicies } from '../../../../src/engine/storage/storage.js';

const config = buildConfig({
  storage: {
    s3: { bucket: 'company-backups', prefix: 'drbot' },
    offsite: [{ bucket: 'offsite-backups', prefix: '' }],
  },
});

describe('storage policies', () => {
  it("gives drbot's runtime credentials no way to destroy locked versions or change the bucket's protections", () => {
    const { runtime } = storagePolicies(config);

    const allowed = runtime.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => s.Action);
    const denied = runtime.Statement.filter((s) => s.Effect === 'Deny').flatMap((s) => s.Action);

    for (const action of [
      's3:DeleteObjectVersion',
      's3:BypassGovernanceRetention',
      's3:PutBucketObjectLockConfiguration',
      's3:PutLifecycleConfiguration',
    ]) {
      expect(allowed).not.toContain(action);
      expect(denied).toContain(action);
    }
    expect(denied).toEqual(RUNTIME_DENIED);
    expect(allowed.some((a) => a.includes('*'))).toBe(false);
    expect(allowed).toEqual(
      expect.arrayContaining(['s3:PutObject', 's3:GetObject', 's3:PutObjectRetention', 's3:RestoreObject']),
    );
  });

  it('limits objects to each target prefix and names every bucket', () => {
    const { runtime } = storagePolicies(config);

    const objects = runtime.Statement.find((s) => s.Sid === 'DrbotObjects');
    const bucket = runtime.Statement.find((s) => s.Sid === 'DrbotBucketRead');

    expect(objects?.Resource).toEqual([
      'arn:aws:s3:::company-backups/drbot/*',
      'arn:aws:s3:::offsite-backups/*',
    ]);
    expect(bucket?.Resource).toEqual(['arn:aws:s3:::company-backups', 'arn:aws:s3:::offsite-backups']);
    expect(runtime.Version).toBe('2012-10-17');
  });

  it('gives the lifecycle write to the admin policy only', () => {
    const { admin } = storagePolicies(config);

    expect(admin.Statement).toEqual([
      {
        Sid: 'DrbotStorageApply',
        Effect: 'Allow',
        Action: ['s3:GetLifecycleConfiguration', 's3:PutLifecycleConfiguration'],
        Resource: ['arn:aws:s3:::company-backups', 'arn:aws:s3:::offsite-backups'],
      },
    ]);
  });
});
