// S3 Object Lock and tier tags for one target: what each write carries, the bucket check, an object's lock.
import {
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  PutObjectRetentionCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { S3TargetConfig } from '../../config.js';
import { retentionCutoff } from '../../domain/duration.js';
import { ErrorCode, externalError, userError } from '../../errors.js';
import type { WriteOptions } from '../../ports/backup-target.js';

const DAY_MS = 24 * 60 * 60_000;
/** The tag every object carries with its asset's tier (lifecycle rules filter on it). */
export const TIER_TAG = 'drbot-tier';
/** `artifact` or `metadata`: only artifacts move to archive classes (a manifest must stay readable). */
export const KIND_TAG = 'drbot-kind';
/** How long an object is locked when nothing says (no `days`, no asset, no earlier version). */
export const FALLBACK_LOCK_DAYS = 7;
/** How long the start-up check waits for the bucket's Object Lock configuration. */
const CHECK_TIMEOUT_MS = 10_000;
/** Sets whose context this process remembers for their manifests and snapshots. */
const SETS_REMEMBERED = 64;

/** The headers of one write: its tags and, with Object Lock, its mode and retain-until. */
export interface WriteParams {
  Tagging?: string;
  ObjectLockMode?: 'GOVERNANCE' | 'COMPLIANCE';
  ObjectLockRetainUntilDate?: Date;
}

interface SetContext {
  tier: string | undefined;
  retainUntil: Date | undefined;
}

/** Days of a retention period from `now` (calendar months and years as they fall). */
export function retentionDays(now: Date, period: NonNullable<WriteOptions['retention']>): number {
  return Math.ceil((now.getTime() - retentionCutoff(now, period).getTime()) / DAY_MS);
}

/** The set id in a key: `YYYY/MM/DD/<set-id>/<file>`, or undefined for other keys. */
function setIdOf(key: string): string | undefined {
  return /^\d{4}\/\d{2}\/\d{2}\/([^/]+)\//.exec(key)?.[1];
}

/**
 * What one S3 target puts on each object it writes: the `drbot-tier` and `drbot-kind` tags, and
 * with `objectLock`, the lock mode and a retain-until date (`days` from the write, or the asset's
 * retention). Objects written without an asset (manifest, SHA256SUMS, state snapshot) take the
 * tier and the longest retain-until of their set's artifacts written by this process; failing
 * that, the retain-until of the version they replace, `days`, or FALLBACK_LOCK_DAYS.
 */
export class ObjectLocks {
  private readonly sets = new Map<string, SetContext>();

  constructor(
    private readonly o: {
      client: Pick<S3Client, 'send'>;
      bucket: string;
      config: Pick<S3TargetConfig, 'objectLock'>;
      /** `s3 s3://bucket/prefix`, for messages. */
      describe: string;
      /** Where `objectLock` sits in the config, for messages (`storage.s3`, `storage.offsite.0`). */
      configKey: string;
      now?: () => Date;
    },
  ) {}

  get enabled(): boolean {
    return this.o.config.objectLock !== undefined;
  }

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }

  /** The headers of a write of `key` (relative) stored as `fullKey`. */
  async paramsFor(key: string, fullKey: string, options: WriteOptions | undefined): Promise<WriteParams> {
    const setId = setIdOf(key);
    const known = setId ? this.sets.get(setId) : this.contextOfKey(key);
    const artifact = options?.tier !== undefined || options?.retention !== undefined;
    const tier = options?.tier ?? known?.tier;
    const tags = new URLSearchParams();
    if (tier) tags.set(TIER_TAG, tier);
    tags.set(KIND_TAG, artifact ? 'artifact' : 'metadata');
    const params: WriteParams = { Tagging: tags.toString() };
    const lock = this.o.config.objectLock;
    let retainUntil: Date | undefined;
    if (lock) {
      const now = this.now();
      const days = lock.days ?? (options?.retention ? retentionDays(now, options.retention) : undefined);
      retainUntil =
        days !== undefined
          ? new Date(now.getTime() + days * DAY_MS)
          : (known?.retainUntil ??
            (await this.lockOf(fullKey).catch(() => undefined)) ??
            new Date(now.getTime() + FALLBACK_LOCK_DAYS * DAY_MS));
      params.ObjectLockMode = lock.mode === 'compliance' ? 'COMPLIANCE' : 'GOVERNANCE';
      params.ObjectLockRetainUntilDate = retainUntil;
    }
    if (setId && artifact) this.remember(setId, tier, retainUntil);
    return params;
  }

  /**
   * Makes sure the stored object carries its retain-until (a store may ignore the lock headers
   * of a multipart upload): sets it with PutObjectRetention when missing or earlier, then
   * checks again. Throws when the object cannot be locked.
   */
  async ensureLocked(fullKey: string, params: WriteParams): Promise<void> {
    const until = params.ObjectLockRetainUntilDate;
    if (!until || !params.ObjectLockMode) return;
    const head = await this.o.client.send(new HeadObjectCommand({ Bucket: this.o.bucket, Key: fullKey }));
    if (head.ObjectLockRetainUntilDate && head.ObjectLockRetainUntilDate >= new Date(until.getTime() - 1000))
      return;
    await this.o.client.send(
      new PutObjectRetentionCommand({
        Bucket: this.o.bucket,
        Key: fullKey,
        ...(head.VersionId ? { VersionId: head.VersionId } : {}),
        Retention: { Mode: params.ObjectLockMode, RetainUntilDate: until },
      }),
    );
    const again = await this.o.client.send(
      new HeadObjectCommand({
        Bucket: this.o.bucket,
        Key: fullKey,
        ...(head.VersionId ? { VersionId: head.VersionId } : {}),
      }),
    );
    if (
      !again.ObjectLockRetainUntilDate ||
      again.ObjectLockRetainUntilDate < new Date(until.getTime() - 1000)
    )
      throw new Error(
        `${fullKey} was stored without its Object Lock retain-until date ${until.toISOString()} and cannot be given one`,
      );
  }

  /** The retain-until date of the current version of an object, if locked; undefined when gone. */
  async lockOf(fullKey: string): Promise<Date | undefined> {
    try {
      const head = await this.o.client.send(new HeadObjectCommand({ Bucket: this.o.bucket, Key: fullKey }));
      return head.ObjectLockRetainUntilDate;
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404)
        return undefined;
      throw err;
    }
  }

  /**
   * Refuses (a user error naming the bucket and the setting) when `objectLock` is configured and
   * the bucket says it has no Object Lock, or does not let drbot see it. A bucket that does not
   * answer at all is not refused here: the error is thrown as external for the caller to judge.
   */
  async checkBucket(): Promise<void> {
    const lock = this.o.config.objectLock;
    if (!lock) return;
    const setting = `${this.o.configKey}.objectLock (mode ${lock.mode}${lock.days ? `, ${lock.days} days` : ''})`;
    const fix = `create the bucket with Object Lock enabled (aws s3api create-bucket --object-lock-enabled-for-bucket …, or enable it on a versioned bucket with put-object-lock-configuration), or remove ${this.o.configKey}.objectLock`;
    let enabled: string | undefined;
    try {
      // Asked at every start, before the command a person typed: a store that does not answer
      // must not hold that up for long (the SDK has no timeout of its own).
      const res = await this.o.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.o.bucket }), {
        abortSignal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
      });
      enabled = res.ObjectLockConfiguration?.ObjectLockEnabled;
    } catch (err) {
      const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode;
      if (e.name === 'ObjectLockConfigurationNotFoundError' || e.name === 'NotImplemented' || status === 501)
        throw userError(
          ErrorCode.OBJECT_LOCK_MISSING,
          `${this.o.describe}: ${setting} asks for S3 Object Lock, but bucket ${this.o.bucket} does not have Object Lock enabled (${e.name}); ${fix}`,
        );
      if (e.name === 'AccessDenied' || status === 403)
        throw userError(
          ErrorCode.OBJECT_LOCK_MISSING,
          `${this.o.describe}: ${setting} asks for S3 Object Lock, but drbot may not read bucket ${this.o.bucket}'s Object Lock configuration (s3:GetBucketObjectLockConfiguration; see drbot storage policy)`,
        );
      throw externalError(
        ErrorCode.S3_FAILED,
        `${this.o.describe}: cannot read bucket ${this.o.bucket}'s Object Lock configuration: ${e.message || e.name}${status ? ` (HTTP ${status})` : ''}`,
        { cause: err },
      );
    }
    if (enabled !== 'Enabled')
      throw userError(
        ErrorCode.OBJECT_LOCK_MISSING,
        `${this.o.describe}: ${setting} asks for S3 Object Lock, but bucket ${this.o.bucket} has ObjectLockEnabled=${enabled ?? 'unset'}; ${fix}`,
      );
  }

  private remember(setId: string, tier: string | undefined, retainUntil: Date | undefined): void {
    const prior = this.sets.get(setId);
    const later =
      prior?.retainUntil && (!retainUntil || prior.retainUntil > retainUntil)
        ? prior.retainUntil
        : retainUntil;
    // The set's metadata takes the tier of its longest-kept artifact.
    const keepTier = prior && prior.retainUntil === later ? prior.tier : tier;
    this.sets.delete(setId);
    this.sets.set(setId, { tier: keepTier ?? prior?.tier, retainUntil: later });
    if (this.sets.size > SETS_REMEMBERED) this.sets.delete(this.sets.keys().next().value as string);
  }

  /** A set named in a key outside its directory (the state snapshot `drbot-state/<set-id>.sqlite.gz`). */
  private contextOfKey(key: string): SetContext | undefined {
    for (const [id, context] of this.sets) if (key.includes(id)) return context;
    return undefined;
  }
}
