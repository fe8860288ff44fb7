// The backup-target port: a place sets are stored (local directory, S3 bucket).
import type { Readable } from 'node:stream';
import type { RetentionPeriod } from '../domain/duration.js';

/**
 * What a target itself showed about a finished write (S3: its checksums of the parts and the
 * stored size), so the engine need not read the object back to confirm it.
 */
export interface WriteReceipt {
  /** The stored object's size. */
  bytes: number;
  /** How the stored bytes were shown to be the ones sent, for messages. */
  checked: string;
}

/** One write in progress to a target. The engine streams into `stream`, then calls `commit`. */
export interface TargetWrite {
  /** Bytes go here; backpressure is honoured. */
  stream: NodeJS.WritableStream & { destroy(error?: Error): void };
  /**
   * Resolves once the object is durably stored under its final key: with a receipt when the
   * target confirmed the bytes itself, or with nothing, and the engine reads them back.
   */
  commit(): Promise<WriteReceipt | undefined>;
  /** Throws away whatever was written; never leaves a partial object that looks complete. */
  abort(cause: Error): Promise<void>;
}

/** The bytes of one stored version of an object, and the tag that names that version. */
export interface VersionedRead {
  stream: Readable;
  /**
   * Opaque; equal tags mean the same stored object (S3: its ETag; a local file: device, inode,
   * size and modification time of the file opened).
   */
  version: string;
}

/**
 * A place backup sets are stored: the local directory, an S3 bucket, an offsite bucket. Keys
 * are relative (`YYYY/MM/DD/<set-id>/<file>`); each target adds its own root or prefix.
 */
export interface BackupTarget {
  /** Short stable name used in the catalog and in messages: `local`, `s3`, `offsite-1`. */
  readonly name: string;
  /** Human description, e.g. `s3://bucket/prefix`. */
  readonly location: string;
  /** Fails with the cause when the target cannot be written (missing bucket, no permission). */
  check(): Promise<void>;
  /** Starts a streamed write; `sizeHint` (bytes) lets S3 pick a safe multipart part size. */
  write(key: string, sizeHint?: number, options?: WriteOptions): Promise<TargetWrite>;
  /** Writes a small object in one go (manifests). */
  put(key: string, body: string | Buffer, options?: WriteOptions): Promise<void>;
  read(key: string): Promise<Readable>;
  /**
   * Reads an object and names the version read. Given the `version` of an earlier read, reads
   * that version only: an object replaced or rewritten since fails with ARTIFACT_CHANGED before
   * a byte is handed back (so a restore loads the very copy it verified).
   */
  readVersion(key: string, version?: string): Promise<VersionedRead>;
  /** Deletes; a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Free space where the target stores (a local disk), or undefined where that means nothing. */
  freeBytes?(): Promise<number | undefined>;
  /** Lists keys below a prefix (for cleanup and tests). */
  list(prefix: string): Promise<string[]>;
  /**
   * Removes what writes that never finished left behind (`*.partial` files, open multipart
   * uploads), those `isDebris` picks; it is asked only after the target has listed them all.
   * A target that leaves nothing behind need not have it. Throws when the target cannot be
   * listed; a single removal that fails is reported in `problems`.
   */
  removeIncomplete?(isDebris: (write: IncompleteWrite) => boolean): Promise<IncompleteRemoval>;
  /**
   * Fails with a user error naming the bucket and the setting when the target is configured to
   * lock what it writes (S3 Object Lock) and the store does not; a store that does not answer
   * is not a refusal (the backup's `check` reports it). Targets that lock nothing need not have it.
   */
  checkImmutability?(): Promise<void>;
  /**
   * Until when the stored object cannot be deleted (S3 Object Lock's retain-until date), or
   * undefined when nothing holds it (or it is gone). Targets that lock nothing need not have it.
   */
  lockedUntil?(key: string): Promise<Date | undefined>;
  /**
   * Makes an object readable when the store moved it to an archive class (S3 GLACIER,
   * DEEP_ARCHIVE): starts the store's restore, says once how long it is expected to take, and
   * resolves when the object can be read; fails at the deadline. Resolves at once for an object
   * that is readable. Targets without archive classes need not have it.
   */
  thaw?(key: string, options: ThawOptions): Promise<void>;
  /**
   * Writes drbot's lifecycle rules (`drbot storage apply`): the store's earlier rules whose ids
   * start with `idPrefix` are replaced, its other rules kept.
   */
  applyLifecycle?(rules: LifecycleRule[], idPrefix: string): Promise<void>;
  /** The lifecycle rules in force on the store (all of them, drbot's or not); [] when none. */
  lifecycleRules?(): Promise<LifecycleRule[]>;
}

/** What an object belongs to, so a target can tag and lock it (S3: `drbot-tier`, Object Lock). */
export interface WriteOptions {
  /** The tier of the asset the object belongs to: the `drbot-tier` tag. */
  tier?: string;
  /** The asset's retention: how long an Object Lock holds the object when the target sets no days. */
  retention?: RetentionPeriod;
}

export interface ThawOptions {
  /** When to give up waiting: the read fails then, naming what was waited for. */
  deadline: Date;
  /** Told once what is being waited for and the expected wait (a run event for the channel). */
  notify(message: string): void;
  /** Stops the wait early (a cancelled run). */
  signal?: AbortSignal;
}

/** One lifecycle rule, as drbot writes and shows it. */
export interface LifecycleRule {
  id: string;
  /** Key prefix the rule applies to ('' = the whole bucket). */
  prefix: string;
  /** Object tags an object must carry for the rule to apply. */
  tags: Record<string, string>;
  /** To another storage class, days after the object was written. */
  transitions: Array<{ days: number; storageClass: string }>;
  /** Incomplete multipart uploads are aborted this many days after they began. */
  abortIncompleteUploadsAfterDays?: number;
  /** Versions no longer current (replaced, or under a delete marker) expire this many days later. */
  noncurrentVersionsExpireAfterDays?: number;
  /** Whether the store applies it (`Enabled`). */
  enabled: boolean;
}

/** A write that was started and never finished: a `*.partial` file, an open multipart upload. */
export interface IncompleteWrite {
  /** The key it was to become (`YYYY/MM/DD/<set-id>/<file>`), relative like every key. */
  key: string;
  /**
   * The latest it can have been started, by this host's clock: the target adds what its own
   * clock may be off by, so "started before T" holds whenever this is before T.
   */
  startedBy: Date;
}

export interface IncompleteRemoval {
  /** What was removed, one line each for the report (`local: 2026/…/x.sql.gz.partial (290 bytes)`). */
  removed: string[];
  /** Removals that failed, with the cause. */
  problems: string[];
}
