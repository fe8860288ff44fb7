// A bucket's lifecycle configuration: drbot's rules written beside the bucket's others, and read back.
import {
  GetBucketLifecycleConfigurationCommand,
  PutBucketLifecycleConfigurationCommand,
  type S3Client,
  type LifecycleRule as S3LifecycleRule,
  type TransitionStorageClass,
} from '@aws-sdk/client-s3';
import type { LifecycleRule } from '../../ports/backup-target.js';

/** The raw rules in force; [] when the bucket has no lifecycle configuration. */
async function rawRules(
  client: Pick<S3Client, 'send'>,
  bucket: string,
  signal?: AbortSignal,
): Promise<S3LifecycleRule[]> {
  try {
    const res = await client.send(
      new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }),
      signal ? { abortSignal: signal } : {},
    );
    return res.Rules ?? [];
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchLifecycleConfiguration') return [];
    throw err;
  }
}

/** drbot's rule in S3's shape: a prefix-only filter, or prefix and tags (S3's `And`). */
export function toS3Rule(rule: LifecycleRule): S3LifecycleRule {
  const tags = Object.entries(rule.tags).map(([Key, Value]) => ({ Key, Value }));
  return {
    ID: rule.id,
    Status: rule.enabled ? 'Enabled' : 'Disabled',
    Filter: tags.length
      ? tags.length === 1 && !rule.prefix
        ? { Tag: tags[0] }
        : { And: { Prefix: rule.prefix, Tags: tags } }
      : { Prefix: rule.prefix },
    ...(rule.transitions.length
      ? {
          Transitions: rule.transitions.map((t) => ({
            Days: t.days,
            StorageClass: t.storageClass as TransitionStorageClass,
          })),
        }
      : {}),
    ...(rule.abortIncompleteUploadsAfterDays !== undefined
      ? { AbortIncompleteMultipartUpload: { DaysAfterInitiation: rule.abortIncompleteUploadsAfterDays } }
      : {}),
    ...(rule.noncurrentVersionsExpireAfterDays !== undefined
      ? { NoncurrentVersionExpiration: { NoncurrentDays: rule.noncurrentVersionsExpireAfterDays } }
      : {}),
  };
}

/** Any rule in S3's shape, as drbot shows it. */
export function fromS3Rule(rule: S3LifecycleRule): LifecycleRule {
  const and = rule.Filter?.And;
  const tags: Record<string, string> = {};
  for (const t of and?.Tags ?? (rule.Filter?.Tag ? [rule.Filter.Tag] : []))
    if (t.Key) tags[t.Key] = t.Value ?? '';
  return {
    id: rule.ID ?? '(no id)',
    prefix: and?.Prefix ?? rule.Filter?.Prefix ?? rule.Prefix ?? '',
    tags,
    transitions: (rule.Transitions ?? []).map((t) => ({
      days: t.Days ?? 0,
      storageClass: t.StorageClass ?? 'unknown',
    })),
    ...(rule.AbortIncompleteMultipartUpload?.DaysAfterInitiation !== undefined
      ? { abortIncompleteUploadsAfterDays: rule.AbortIncompleteMultipartUpload.DaysAfterInitiation }
      : {}),
    ...(rule.NoncurrentVersionExpiration?.NoncurrentDays !== undefined
      ? { noncurrentVersionsExpireAfterDays: rule.NoncurrentVersionExpiration.NoncurrentDays }
      : {}),
    enabled: rule.Status === 'Enabled',
  };
}

/**
 * Writes `rules` as the bucket's rules with ids `ownPrefix*`: S3 has one lifecycle
 * configuration per bucket, so the bucket's other rules (another prefix's drbot, other tools)
 * are kept as they are, and drbot's earlier rules of this prefix are replaced.
 */
export async function applyLifecycle(
  client: Pick<S3Client, 'send'>,
  bucket: string,
  ownPrefix: string,
  rules: LifecycleRule[],
): Promise<void> {
  const others = (await rawRules(client, bucket)).filter((r) => !r.ID?.startsWith(ownPrefix));
  await client.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: { Rules: [...others, ...rules.map(toS3Rule)] },
    }),
  );
}

/** Every lifecycle rule of the bucket, drbot's or not. */
export async function readLifecycle(
  client: Pick<S3Client, 'send'>,
  bucket: string,
  signal?: AbortSignal,
): Promise<LifecycleRule[]> {
  return (await rawRules(client, bucket, signal)).map(fromS3Rule);
}
