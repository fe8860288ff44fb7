// AppError, the one error type that crosses layers, and how errors are described to people.
import { scrub } from './secrets.js';

/**
 * The one error type that crosses layers. `kind` decides how a front end reports it:
 * `user` → explain what was wrong and what is allowed; `external` → a dependency failed
 * (Docker, S3, a dump tool), shown with its cause; `internal` → a bug, shown with a reference.
 */
export type ErrorKind = 'user' | 'external' | 'internal';

export const ErrorCode = {
  CONFIG_INVALID: 'CONFIG_INVALID',
  USAGE: 'USAGE',
  UNKNOWN_ASSET: 'UNKNOWN_ASSET',
  LABEL_INVALID: 'LABEL_INVALID',
  NOTHING_TO_BACK_UP: 'NOTHING_TO_BACK_UP',
  RUN_NOT_FOUND: 'RUN_NOT_FOUND',
  ASSET_BUSY: 'ASSET_BUSY',
  DOCKER_UNREACHABLE: 'DOCKER_UNREACHABLE',
  DOCKER_FAILED: 'DOCKER_FAILED',
  CONTAINER_NOT_RUNNING: 'CONTAINER_NOT_RUNNING',
  SECRET_MISSING: 'SECRET_MISSING',
  DUMP_EXIT_NONZERO: 'DUMP_EXIT_NONZERO',
  DUMP_INCOMPLETE: 'DUMP_INCOMPLETE',
  ARCHIVE_FAILED: 'ARCHIVE_FAILED',
  COMPRESS_FAILED: 'COMPRESS_FAILED',
  S3_UPLOAD_FAILED: 'S3_UPLOAD_FAILED',
  S3_FAILED: 'S3_FAILED',
  LOCAL_WRITE_FAILED: 'LOCAL_WRITE_FAILED',
  TARGET_WRITE_FAILED: 'TARGET_WRITE_FAILED',
  CHECKSUM_MISMATCH: 'CHECKSUM_MISMATCH',
  /** A stored artifact is no longer the version that was verified (replaced or rewritten since). */
  ARTIFACT_CHANGED: 'ARTIFACT_CHANGED',
  RESTORE_FAILED: 'RESTORE_FAILED',
  SANITY_CHECK_FAILED: 'SANITY_CHECK_FAILED',
  NOT_READY: 'NOT_READY',
  NO_USABLE_SET: 'NO_USABLE_SET',
  SET_NOT_FOUND: 'SET_NOT_FOUND',
  APPROVAL_REQUIRED: 'APPROVAL_REQUIRED',
  CANCELLED: 'CANCELLED',
  SAFETY_SNAPSHOT_FAILED: 'SAFETY_SNAPSHOT_FAILED',
  PRUNE_REFUSED: 'PRUNE_REFUSED',
  /** drbot is stopping: it starts no new run. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** A limit on expensive work (deep verifies at once, runs per user) refuses the request. */
  LIMIT_REACHED: 'LIMIT_REACHED',
  /** Encryption (age) of an artifact failed. */
  ENCRYPTION_FAILED: 'ENCRYPTION_FAILED',
  /** An encrypted artifact could not be decrypted: wrong key, damaged or cut short. */
  DECRYPTION_FAILED: 'DECRYPTION_FAILED',
  /** Work that needs the plaintext of encrypted artifacts has no usable age identity. */
  IDENTITY_MISSING: 'IDENTITY_MISSING',
  /** An S3 target is configured with Object Lock and its bucket does not have it. */
  OBJECT_LOCK_MISSING: 'OBJECT_LOCK_MISSING',
  /** An artifact is in an archive storage class and was not restored in time to be read. */
  ARTIFACT_ARCHIVED: 'ARTIFACT_ARCHIVED',
  /** A backup hook (container label drbot.hooks.*) failed or is misconfigured. */
  HOOK_FAILED: 'HOOK_FAILED',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface AppErrorOptions {
  cause?: unknown;
  /** Which asset the failure concerns, when there is one. */
  asset?: string;
  /** The step that failed (dump, upload, verify, …). */
  step?: string;
  /** The last lines a tool wrote to stderr. */
  stderrTail?: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly asset: string | undefined;
  readonly step: string | undefined;
  readonly stderrTail: string | undefined;

  constructor(code: ErrorCode, kind: ErrorKind, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.kind = kind;
    this.asset = options.asset;
    this.step = options.step;
    this.stderrTail = options.stderrTail;
  }
}

export const userError = (code: ErrorCode, message: string, options?: AppErrorOptions) =>
  new AppError(code, 'user', message, options);
export const externalError = (code: ErrorCode, message: string, options?: AppErrorOptions) =>
  new AppError(code, 'external', message, options);

/** Wraps anything thrown into an AppError, keeping an existing one as it is. */
export function toAppError(err: unknown, fallback: ErrorCode = ErrorCode.INTERNAL): AppError {
  if (err instanceof AppError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AppError(fallback, fallback === ErrorCode.INTERNAL ? 'internal' : 'external', message, {
    cause: err,
  });
}

/** The same error with the asset and step filled in where it did not name them yet. */
export function inContext(err: unknown, asset: string, step: string): AppError {
  const e = toAppError(err, ErrorCode.DOCKER_FAILED);
  if (e.asset && e.step) return e;
  return new AppError(e.code, e.kind, e.message, {
    cause: e.cause ?? e,
    asset: e.asset ?? asset,
    step: e.step ?? step,
    ...(e.stderrTail ? { stderrTail: e.stderrTail } : {}),
  });
}

/** How much of a tool's stderr an error description shows: its last lines, and at most so many characters. */
export const STDERR_SHOWN = { lines: 10, chars: 1000 } as const;

/**
 * The end of a tool's stderr as shown to people: scrubbed of secrets first (cutting first could
 * leave part of a secret that no longer matches), then cut to its last lines. A tool can write
 * kilobytes of stderr; the last lines say why it stopped.
 */
export function stderrShown(tail: string): string {
  const lines = scrub(tail).trim().split('\n');
  let shown = lines.slice(-STDERR_SHOWN.lines).join('\n');
  if (shown.length > STDERR_SHOWN.chars) shown = shown.slice(-STDERR_SHOWN.chars);
  return shown.length < lines.join('\n').length ? `…${shown}` : shown;
}

/** One line that says what failed, where, and why — for run records, CLI output and alerts. */
export function describeError(err: unknown): string {
  const e = toAppError(err);
  const where = [e.asset && `asset ${e.asset}`, e.step && `step ${e.step}`].filter(Boolean).join(', ');
  const tail = e.stderrTail ? ` — stderr: ${stderrShown(e.stderrTail)}` : '';
  return scrub(`${where ? `${where}: ` : ''}${e.message}${tail}`);
}

/**
 * The same error with its message and stderr scrubbed of the secrets registered now, and
 * without its cause (whose text may hold them too): for errors that outlive a secret, such as
 * a deep verify's, whose scratch password is forgotten when the scratch is removed.
 */
export function scrubbedError(err: unknown): AppError {
  const e = toAppError(err);
  const scrubbed = new AppError(e.code, e.kind, scrub(e.message), {
    ...(e.asset ? { asset: e.asset } : {}),
    ...(e.step ? { step: e.step } : {}),
    ...(e.stderrTail ? { stderrTail: scrub(e.stderrTail) } : {}),
  });
  // Where it was thrown still matters for internal errors.
  if (e.stack) scrubbed.stack = scrub(e.stack);
  return scrubbed;
}
