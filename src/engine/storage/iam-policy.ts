// Least-privilege IAM policies for drbot's S3 credentials (runtime) and for `drbot storage apply` (admin).
import type { S3TargetConfig } from '../../config.js';

export interface IamPolicy {
  Version: '2012-10-17';
  Statement: Array<{
    Sid: string;
    Effect: 'Allow' | 'Deny';
    Action: string[];
    Resource: string[];
  }>;
}

/**
 * What drbot must never be able to do with the credentials on its host: destroy or shorten what
 * Object Lock holds (delete a version, bypass governance), or change the bucket's protections
 * (its lock, versioning, lifecycle, policy). Denied explicitly, so a broader grant elsewhere
 * (an admin group the user is also in) does not give them back.
 */
export const RUNTIME_DENIED = [
  's3:DeleteObjectVersion',
  's3:BypassGovernanceRetention',
  's3:PutBucketObjectLockConfiguration',
  's3:PutLifecycleConfiguration',
  's3:PutBucketVersioning',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:DeleteBucket',
];

/** What a backup, verify, restore, prune and catalog rebuild do on a bucket, and nothing more. */
const RUNTIME_OBJECT_ACTIONS = [
  's3:GetObject',
  's3:PutObject',
  // PutObject with tags (drbot-tier) needs it; with a retain-until date, PutObjectRetention.
  's3:PutObjectTagging',
  's3:PutObjectRetention',
  's3:GetObjectRetention',
  // A plain delete: with versioning (Object Lock) it only adds a delete marker.
  's3:DeleteObject',
  's3:AbortMultipartUpload',
  's3:ListMultipartUploadParts',
  // A restore of an artifact the lifecycle moved to GLACIER or DEEP_ARCHIVE.
  's3:RestoreObject',
];

const RUNTIME_BUCKET_ACTIONS = [
  's3:ListBucket',
  's3:ListBucketMultipartUploads',
  's3:GetBucketObjectLockConfiguration',
  // `/dr policy` shows the rules in force.
  's3:GetLifecycleConfiguration',
];

/** Lifecycle rules are written by a person with these, never by the running drbot. */
const ADMIN_ACTIONS = ['s3:GetLifecycleConfiguration', 's3:PutLifecycleConfiguration'];

type Target = Pick<S3TargetConfig, 'bucket' | 'prefix'>;

const bucketArn = (t: Target) => `arn:aws:s3:::${t.bucket}`;
const objectsArn = (t: Target) => {
  const prefix = t.prefix.replace(/^\/+|\/+$/g, '');
  return `arn:aws:s3:::${t.bucket}/${prefix ? `${prefix}/` : ''}*`;
};

/** The policy for the credentials drbot runs with, over every S3 target of the config. */
export function runtimePolicy(targets: Target[]): IamPolicy {
  const buckets = [...new Set(targets.map(bucketArn))];
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DrbotObjects',
        Effect: 'Allow',
        Action: RUNTIME_OBJECT_ACTIONS,
        Resource: [...new Set(targets.map(objectsArn))],
      },
      {
        Sid: 'DrbotBucketRead',
        Effect: 'Allow',
        // HeadBucket (the writable check) needs ListBucket on the bucket itself, without a prefix.
        Action: RUNTIME_BUCKET_ACTIONS,
        Resource: buckets,
      },
      {
        Sid: 'DrbotNeverDestroys',
        Effect: 'Deny',
        Action: RUNTIME_DENIED,
        Resource: [...buckets, ...buckets.map((b) => `${b}/*`)],
      },
    ],
  };
}

/** The policy for whoever runs `drbot storage apply` (an administrator, not drbot's host). */
export function adminPolicy(targets: Target[]): IamPolicy {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DrbotStorageApply',
        Effect: 'Allow',
        Action: ADMIN_ACTIONS,
        Resource: [...new Set(targets.map(bucketArn))],
      },
    ],
  };
}
