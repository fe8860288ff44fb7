// The S3 adapter of the backup-target port (S3 and S3-compatible buckets).
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { S3TargetConfig } from '../../config.js';
import { AppError, ErrorCode, externalError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type {
  BackupTarget,
  LifecycleRule,
  TargetWrite,
  ThawOptions,
  VersionedRead,
  WriteOptions,
} from '../../ports/backup-target.js';
import { thawObject } from './archive-thaw.js';
import { IncompleteUploads } from './incomplete-uploads.js';
import { applyLifecycle, readLifecycle } from './lifecycle.js';
import { ObjectLocks } from './object-lock.js';
import { PartUploader, StoredBytesMismatch } from './part-uploader.js';

const MiB = 1024 * 1024;
/** S3 allows at most 10,000 parts; we aim below that with room for a size estimate being off. */
const MAX_PARTS = 10_000;
/** With no size estimate (an asset's first backup): 8 MiB parts allow about 78 GiB. */
const DEFAULT_PART_SIZE = 8 * MiB;
/** S3's smallest part; used when the last backup's size shows it is enough (less memory). */
const MIN_PART_SIZE = 5 * MiB;
/** How long `/dr policy` waits for a bucket's lifecycle rules. */
const LIFECYCLE_READ_TIMEOUT_MS = 5_000;
/** Parts in flight per upload; memory is (queueSize + 1) × partSize per upload (one filling). */
const QUEUE_SIZE = 2;

/**
 * The part size for a stream of unknown length: big enough that twice the expected size (the
 * last backup's) still fits in 10,000 parts, and at least `partSizeMiB` when configured. With
 * an estimate, parts start at S3's minimum of 5 MiB (each upload holds a few parts in memory);
 * without one, at 8 MiB, which allows about 78 GiB per artifact.
 */
export function partSizeFor(sizeHint: number | undefined, configuredMiB?: number): number {
  const floor = configuredMiB ? configuredMiB * MiB : sizeHint ? MIN_PART_SIZE : DEFAULT_PART_SIZE;
  if (!sizeHint) return floor;
  const needed = Math.ceil((sizeHint * 2) / (MAX_PARTS - 100) / MiB) * MiB;
  return Math.min(Math.max(floor, needed), 5 * 1024 * MiB);
}

/** Test seams of the S3 target: its clock and how an archive restore waits. */
export interface S3TargetOptions {
  now?: () => Date;
  pollMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Where a target's settings sit in the config (`s3` → `storage.s3`, `offsite-2` → `storage.offsite.1`). */
function configKeyOf(name: string): string {
  const offsite = /^offsite-(\d+)$/.exec(name);
  return offsite ? `storage.offsite.${Number(offsite[1]) - 1}` : `storage.${name}`;
}

export class S3Target implements BackupTarget {
  readonly location: string;
  private readonly client: S3Client;
  private readonly prefix: string;
  private readonly locks: ObjectLocks;

  constructor(
    readonly name: string,
    private readonly config: S3TargetConfig,
    private readonly log: Logger,
    private readonly options: S3TargetOptions = {},
  ) {
    this.prefix = config.prefix.replace(/^\/+|\/+$/g, '');
    this.location = `s3://${config.bucket}/${this.prefix}`;
    this.client = new S3Client({
      ...(config.region ? { region: config.region } : { region: process.env.AWS_REGION ?? 'us-east-1' }),
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      ...(config.forcePathStyle !== undefined ? { forcePathStyle: config.forcePathStyle } : {}),
      // S3-compatible stores often lack the newer CRC checksums; integrity is our own sha256.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
    });
    this.locks = new ObjectLocks({
      client: this.client,
      bucket: config.bucket,
      config,
      describe: `${name} ${this.location}`,
      configKey: configKeyOf(name),
      ...(options.now ? { now: options.now } : {}),
    });
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.config.bucket }));
    } catch (err) {
      throw this.fail(ErrorCode.S3_FAILED, `bucket ${this.config.bucket} is not reachable`, err);
    }
    await this.locks.checkBucket();
  }

  /** With `objectLock`, refuses a bucket without Object Lock (see ObjectLocks.checkBucket). */
  checkImmutability(): Promise<void> {
    return this.locks.checkBucket();
  }

  async write(key: string, sizeHint?: number, options?: WriteOptions): Promise<TargetWrite> {
    const params = await this.objectParams(key, options);
    const uploader = new PartUploader({
      objectParams: params,
      client: this.client,
      bucket: this.config.bucket,
      key: this.key(key),
      storageClass: this.config.storageClass,
      contentType: key.endsWith('.gz') ? 'application/gzip' : 'application/octet-stream',
      partSize: partSizeFor(sizeHint, this.config.partSizeMiB),
      queueSize: QUEUE_SIZE,
      compareEtags: this.config.confirm !== 'read-back',
      wrap: (err) =>
        err instanceof StoredBytesMismatch
          ? this.fail(ErrorCode.CHECKSUM_MISMATCH, `${this.key(key)} was not stored as sent`, err)
          : this.fail(ErrorCode.S3_UPLOAD_FAILED, `upload of ${this.key(key)} failed`, err),
    });
    let aborted = false;
    return {
      stream: uploader,
      commit: async () => {
        const receipt = await uploader.done;
        await this.ensureLocked(key, params);
        // With read-back, the engine downloads the object and compares its sha256.
        return this.config.confirm === 'read-back' ? undefined : receipt;
      },
      abort: async () => {
        if (aborted) return;
        aborted = true;
        if (uploader.finishing) {
          // The whole body was handed over and the object may be being created right now: a
          // CompleteMultipartUpload on the wire would create it after the delete below. Let
          // the upload settle first.
          await uploader.done.catch(() => undefined);
        } else {
          uploader.destroy();
          await uploader.cleanup;
        }
        // If the upload had completed before the abort, the object must not survive.
        await this.delete(key).catch((err) =>
          this.log.warn({ key, err: (err as Error).message }, 'could not delete aborted upload'),
        );
      },
    };
  }

  async put(key: string, body: string | Buffer, options?: WriteOptions): Promise<void> {
    const params = await this.objectParams(key, options);
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.config.bucket,
          Key: this.key(key),
          Body: bytes,
          // S3 refuses an object with a retain-until date without it; it checks the bytes too.
          ContentMD5: createHash('md5').update(bytes).digest('base64'),
          StorageClass: this.config.storageClass,
          ...params,
        }),
      );
    } catch (err) {
      throw this.fail(ErrorCode.S3_UPLOAD_FAILED, `upload of ${this.key(key)} failed`, err);
    }
    await this.ensureLocked(key, params);
  }

  /** The retain-until date of the object's current version while it is locked (Object Lock). */
  async lockedUntil(key: string): Promise<Date | undefined> {
    try {
      return await this.locks.lockOf(this.key(key));
    } catch (err) {
      throw this.fail(ErrorCode.S3_FAILED, `cannot read the Object Lock of ${this.key(key)}`, err);
    }
  }

  /** Makes an object in GLACIER or DEEP_ARCHIVE readable (see thawObject). */
  async thaw(key: string, options: ThawOptions): Promise<void> {
    try {
      await thawObject(
        {
          client: this.client,
          bucket: this.config.bucket,
          key: this.key(key),
          config: this.config,
          describe: `${this.name} ${this.location}`,
          ...(this.options.pollMs !== undefined ? { pollMs: this.options.pollMs } : {}),
          ...(this.options.sleep ? { sleep: this.options.sleep } : {}),
          ...(this.options.now ? { now: this.options.now } : {}),
        },
        options,
      );
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw this.fail(ErrorCode.S3_FAILED, `cannot make ${this.key(key)} readable`, err);
    }
  }

  /** Replaces this target's lifecycle rules (ids starting `idPrefix`), keeping the bucket's others. */
  async applyLifecycle(rules: LifecycleRule[], idPrefix: string): Promise<void> {
    try {
      await applyLifecycle(this.client, this.config.bucket, idPrefix, rules);
    } catch (err) {
      // drbot's own credentials are denied this on purpose (see `drbot storage policy`).
      throw this.fail(
        ErrorCode.S3_FAILED,
        `cannot write bucket ${this.config.bucket}'s lifecycle rules (this needs s3:PutLifecycleConfiguration: run it with the credentials of \`drbot storage policy --admin\`, not drbot's own)`,
        err,
      );
    }
  }

  async lifecycleRules(): Promise<LifecycleRule[]> {
    try {
      // `/dr policy` shows them: a store that does not answer must not hold the answer up.
      return await readLifecycle(
        this.client,
        this.config.bucket,
        AbortSignal.timeout(LIFECYCLE_READ_TIMEOUT_MS),
      );
    } catch (err) {
      throw this.fail(ErrorCode.S3_FAILED, `cannot read bucket ${this.config.bucket}'s lifecycle rules`, err);
    }
  }

  private objectParams(key: string, options: WriteOptions | undefined) {
    return this.locks.paramsFor(key, this.key(key), options).catch((err: unknown) => {
      throw this.fail(ErrorCode.S3_UPLOAD_FAILED, `cannot prepare the upload of ${this.key(key)}`, err);
    });
  }

  private async ensureLocked(key: string, params: Awaited<ReturnType<ObjectLocks['paramsFor']>>) {
    try {
      await this.locks.ensureLocked(this.key(key), params);
    } catch (err) {
      throw this.fail(ErrorCode.S3_UPLOAD_FAILED, `Object Lock of ${this.key(key)}`, err);
    }
  }

  async read(key: string): Promise<Readable> {
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.config.bucket, Key: this.key(key) }),
      );
      return res.Body as Readable;
    } catch (err) {
      throw this.fail(ErrorCode.S3_FAILED, `cannot read ${this.key(key)}`, err);
    }
  }

  /**
   * The version is the ETag. A read of a given version asks S3 for it with If-Match and checks
   * the ETag of the answer too, since some S3-compatible stores ignore If-Match.
   */
  async readVersion(key: string, version?: string): Promise<VersionedRead> {
    const changed = (found: string | undefined) =>
      externalError(
        ErrorCode.ARTIFACT_CHANGED,
        `${this.name} ${this.location}: ${this.key(key)} is no longer the object that was verified (ETag ${found ?? 'unknown'}, verified ${version})`,
      );
    let res: GetObjectCommandOutput;
    try {
      res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.config.bucket,
          Key: this.key(key),
          ...(version !== undefined ? { IfMatch: version } : {}),
        }),
      );
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (version !== undefined && (e.$metadata?.httpStatusCode === 412 || e.name === 'PreconditionFailed'))
        // A store that honours If-Match (S3 itself) answers 412 without the object: name what is there now.
        throw changed(await this.currentEtag(key));
      throw this.fail(ErrorCode.S3_FAILED, `cannot read ${this.key(key)}`, err);
    }
    const stream = res.Body as Readable;
    if (!res.ETag || (version !== undefined && res.ETag !== version)) {
      stream.destroy();
      if (!res.ETag)
        throw this.fail(
          ErrorCode.S3_FAILED,
          `cannot read ${this.key(key)}`,
          new Error('the answer has no ETag'),
        );
      throw changed(res.ETag);
    }
    return { stream, version: res.ETag };
  }

  private async currentEtag(key: string): Promise<string | undefined> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.config.bucket, Key: this.key(key) }),
      );
      return head.ETag;
    } catch {
      return undefined;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.key(key) }));
    } catch (err) {
      throw this.fail(ErrorCode.S3_FAILED, `cannot delete ${this.key(key)}`, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    const full = this.key(prefix);
    try {
      do {
        const res = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.config.bucket, Prefix: full, ContinuationToken: token }),
        );
        for (const o of res.Contents ?? [])
          if (o.Key) keys.push(o.Key.slice(this.prefix ? this.prefix.length + 1 : 0));
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.fail(ErrorCode.S3_FAILED, `cannot list ${full}`, err);
    }
    return keys.sort();
  }

  /** Aborts the multipart uploads `isDebris` picks: uploads a killed process never finished. */
  removeIncomplete(isDebris: Parameters<IncompleteUploads['remove']>[0]) {
    this.incomplete ??= new IncompleteUploads({
      client: this.client,
      bucket: this.config.bucket,
      prefix: this.prefix,
      target: this.name,
      log: this.log,
    });
    return this.incomplete.remove(isDebris);
  }

  private incomplete: IncompleteUploads | undefined;

  private key(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private fail(code: ErrorCode, what: string, err: unknown) {
    const e = err as {
      name?: string;
      message?: string;
      code?: string;
      $metadata?: { httpStatusCode?: number };
    };
    const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : '';
    const cause = e.message || e.code || e.name || String(err);
    return externalError(code, `${this.name} ${this.location}: ${what}: ${cause}${status}`, { cause: err });
  }
}
