// Reading an object the bucket's lifecycle moved to GLACIER or DEEP_ARCHIVE: restore request, wait, deadline.
import { HeadObjectCommand, RestoreObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { S3TargetConfig } from '../../config.js';
import { formatSpan } from '../../domain/duration.js';
import { ErrorCode, externalError } from '../../errors.js';
import type { ThawOptions } from '../../ports/backup-target.js';

/** Storage classes whose objects cannot be read before an S3 restore request (RestoreObject). */
export const ARCHIVE_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE']);

/** AWS's published retrieval times, per class and retrieval tier (the wait a person is told). */
const EXPECTED_WAIT: Record<string, Record<string, string>> = {
  GLACIER: { Expedited: '1–5 minutes', Standard: '3–5 hours', Bulk: '5–12 hours' },
  DEEP_ARCHIVE: {
    Expedited: 'not offered (Standard is used: within 12 hours)',
    Standard: 'within 12 hours',
    Bulk: 'within 48 hours',
  },
};

/** How often HeadObject is asked whether the restored copy is ready. */
export const THAW_POLL_MS = 60_000;

type Head = { StorageClass?: string | undefined; Restore?: string | undefined };

/** `ongoing-request="false"` in the Restore header: the restored copy can be read. */
export function restoreDone(restore: string | undefined): boolean {
  return /ongoing-request="false"/.test(restore ?? '');
}

/**
 * Makes an archived object readable: HeadObject shows its class and any restore under way; with
 * none, RestoreObject starts one (DEEP_ARCHIVE has no Expedited tier: Standard is asked then).
 * `notify` is told once what is waited for and AWS's expected time; HeadObject is then polled
 * every `pollMs` until `Restore: ongoing-request="false"`, the deadline (ARTIFACT_ARCHIVED), or
 * the signal. An object in any other class resolves at once.
 */
export async function thawObject(
  o: {
    client: Pick<S3Client, 'send'>;
    bucket: string;
    key: string;
    config: Pick<S3TargetConfig, 'archiveRestore'>;
    describe: string;
    pollMs?: number;
    sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
    now?: () => Date;
  },
  options: ThawOptions,
): Promise<void> {
  const now = o.now ?? (() => new Date());
  const sleep = o.sleep ?? defaultSleep;
  const head = (): Promise<Head> => o.client.send(new HeadObjectCommand({ Bucket: o.bucket, Key: o.key }));
  const first = await head();
  const storageClass = first.StorageClass ?? 'STANDARD';
  if (!ARCHIVE_CLASSES.has(storageClass) || restoreDone(first.Restore)) return;
  const settings = { tier: 'Standard', days: 1, ...o.config.archiveRestore } as const;
  const wanted = settings.tier;
  const tier = storageClass === 'DEEP_ARCHIVE' && wanted === 'Expedited' ? 'Standard' : wanted;
  let started = 'a restore was already under way';
  if (!first.Restore) {
    try {
      await o.client.send(
        new RestoreObjectCommand({
          Bucket: o.bucket,
          Key: o.key,
          RestoreRequest: { Days: settings.days, GlacierJobParameters: { Tier: tier } },
        }),
      );
      started = `restore request sent (${tier} retrieval, readable for ${settings.days} day(s))`;
    } catch (err) {
      // Another reader asked first: the restore is under way.
      if ((err as { name?: string }).name !== 'RestoreAlreadyInProgress')
        throw externalError(
          ErrorCode.S3_FAILED,
          `${o.describe}: ${o.key} is in ${storageClass} and its restore cannot be started: ${(err as Error).message}`,
          { cause: err },
        );
      started = 'a restore was already under way';
    }
  }
  const left = Math.max(0, options.deadline.getTime() - now().getTime());
  options.notify(
    `${o.key} is in ${storageClass}: ${started}; expected wait ${EXPECTED_WAIT[storageClass]?.[tier] ?? 'unknown'} (waiting at most ${formatSpan(left)}, until ${options.deadline.toISOString()})`,
  );
  let current: Head = await head();
  while (!restoreDone(current.Restore)) {
    const remaining = options.deadline.getTime() - now().getTime();
    if (remaining <= 0)
      throw externalError(
        ErrorCode.ARTIFACT_ARCHIVED,
        `${o.describe}: ${o.key} is in ${storageClass} and its restored copy was not ready by ${options.deadline.toISOString()} (Restore: ${current.Restore ?? 'none'}); the restore request stays under way: run again later`,
      );
    if (options.signal?.aborted) throw options.signal.reason ?? new Error('cancelled');
    await sleep(Math.min(o.pollMs ?? THAW_POLL_MS, remaining), options.signal);
    current = await head();
  }
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason ?? new Error('cancelled'));
      },
      { once: true },
    );
  });
}
