import {
  GetBucketLifecycleConfigurationCommand,
  PutBucketLifecycleConfigurationCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import {
  applyLifecycle,
  fromS3Rule,
  readLifecycle,
  toS3Rule,
} from '../../../../src/adapters/s3/lifecycle.js';
import type { LifecycleRule } from '../../../../src/ports/backup-target.js';

const tierRule: LifecycleRule = {
  id: 'drbot-drbot-tier-critical',
  prefix: 'drbot/',
  tags: { 'drbot-tier': 'critical', 'drbot-kind': 'artifact' },
  transitions: [
    { days: 30, storageClass: 'GLACIER' },
    { days: 90, storageClass: 'DEEP_ARCHIVE' },
  ],
  enabled: true,
};
const housekeeping: LifecycleRule = {
  id: 'drbot-drbot-housekeeping',
  prefix: 'drbot/',
  tags: {},
  transitions: [],
  abortIncompleteUploadsAfterDays: 1,
  noncurrentVersionsExpireAfterDays: 1,
  enabled: true,
};

/** A bucket's lifecycle configuration in memory, behind the two S3 calls. */
function fakeBucket(rules: unknown[] | undefined) {
  let stored = rules;
  return {
    stored: () => stored,
    client: {
      async send(command: unknown) {
        if (command instanceof GetBucketLifecycleConfigurationCommand) {
          if (!stored)
            throw Object.assign(new Error('The lifecycle configuration does not exist'), {
              name: 'NoSuchLifecycleConfiguration',
            });
          return { Rules: stored };
        }
        if (command instanceof PutBucketLifecycleConfigurationCommand) {
          stored = command.input.LifecycleConfiguration?.Rules;
          return {};
        }
        throw new Error('unexpected command');
      },
    } as never,
  };
}

describe('lifecycle rules in S3 form', () => {
  it('puts prefix and tags in an And filter, and reads back what it wrote', () => {
    expect(toS3Rule(tierRule)).toEqual({
      ID: 'drbot-drbot-tier-critical',
      Status: 'Enabled',
      Filter: {
        And: {
          Prefix: 'drbot/',
          Tags: [
            { Key: 'drbot-tier', Value: 'critical' },
            { Key: 'drbot-kind', Value: 'artifact' },
          ],
        },
      },
      Transitions: [
        { Days: 30, StorageClass: 'GLACIER' },
        { Days: 90, StorageClass: 'DEEP_ARCHIVE' },
      ],
    });
    expect(toS3Rule(housekeeping)).toEqual({
      ID: 'drbot-drbot-housekeeping',
      Status: 'Enabled',
      Filter: { Prefix: 'drbot/' },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      NoncurrentVersionExpiration: { NoncurrentDays: 1 },
    });
    expect(fromS3Rule(toS3Rule(tierRule))).toEqual(tierRule);
    expect(fromS3Rule(toS3Rule(housekeeping))).toEqual(housekeeping);
  });
});

describe('applyLifecycle', () => {
  it("replaces this prefix's earlier rules and keeps the bucket's others", async () => {
    const other = {
      ID: 'other-tool',
      Status: 'Enabled',
      Filter: { Prefix: 'logs/' },
      Expiration: { Days: 7 },
    };
    const stale = { ID: 'drbot-drbot-tier-logs', Status: 'Enabled', Filter: { Prefix: 'drbot/' } };
    const bucket = fakeBucket([other, stale]);

    await applyLifecycle(bucket.client, 'b', 'drbot-drbot-', [tierRule, housekeeping]);

    expect(bucket.stored()).toEqual([other, toS3Rule(tierRule), toS3Rule(housekeeping)]);
    expect((await readLifecycle(bucket.client, 'b')).map((r) => r.id)).toEqual([
      'other-tool',
      'drbot-drbot-tier-critical',
      'drbot-drbot-housekeeping',
    ]);
  });

  it('writes to a bucket that had no lifecycle configuration, which reads as no rules', async () => {
    const bucket = fakeBucket(undefined);

    expect(await readLifecycle(bucket.client, 'b')).toEqual([]);
    await applyLifecycle(bucket.client, 'b', 'drbot-drbot-', [housekeeping]);

    expect(bucket.stored()).toEqual([toS3Rule(housekeeping)]);
  });
});
