// Multipart uploads a killed process left open under a target's prefix: listed, and aborted when picked.
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { ErrorCode, externalError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { IncompleteRemoval, IncompleteWrite } from '../../ports/backup-target.js';

/**
 * How far the store's clock may be from ours. S3 refuses signatures more than 15 minutes off,
 * but the SDK corrects its clock to the store's when told, so more is possible: an upload's
 * `Initiated` time is taken to be up to an hour behind our clock.
 */
export const STORE_CLOCK_ALLOWANCE_MS = 60 * 60_000;

/**
 * The clean-up runs at start-up, before the command a person typed: a store that does not
 * answer must not hold that up for long (the SDK has no connection timeout of its own).
 */
const CLEANUP_TIMEOUT_MS = 10_000;

export interface OpenUpload {
  /** Below the prefix, like every key of the port. */
  key: string;
  uploadId: string;
  initiated: Date;
}

/**
 * The multipart uploads begun under one target's prefix and neither completed nor aborted.
 * Their parts stay stored (and billed) until someone aborts them, which a process killed
 * mid-upload never does.
 */
export class IncompleteUploads {
  /** Cleared once the store answered that it cannot list multipart uploads. */
  private listable = true;

  constructor(
    private readonly o: {
      client: Pick<S3Client, 'send'>;
      bucket: string;
      /** The target's prefix without slashes at either end; '' for the whole bucket. */
      prefix: string;
      /** The target's name, for messages. */
      target: string;
      log: Logger;
    },
  ) {}

  /**
   * Aborts the uploads `isDebris` picks, once all are listed. A store without
   * ListMultipartUploads (some S3-compatible ones) is said once in the log and left to the
   * bucket's own lifecycle rule (AbortIncompleteMultipartUpload), if it has one.
   */
  async remove(isDebris: (write: IncompleteWrite) => boolean): Promise<IncompleteRemoval> {
    const out: IncompleteRemoval = { removed: [], problems: [] };
    for (const u of await this.list()) {
      const startedBy = new Date(u.initiated.getTime() + STORE_CLOCK_ALLOWANCE_MS);
      if (!isDebris({ key: u.key, startedBy })) continue;
      const full = this.full(u.key);
      try {
        await this.o.client.send(
          new AbortMultipartUploadCommand({ Bucket: this.o.bucket, Key: full, UploadId: u.uploadId }),
          { abortSignal: AbortSignal.timeout(CLEANUP_TIMEOUT_MS) },
        );
        out.removed.push(
          `${this.o.target}: multipart upload of ${full} begun ${u.initiated.toISOString()} (aborted)`,
        );
      } catch (err) {
        // Completed or aborted by its own process meanwhile: nothing of it is left.
        if ((err as { name?: string }).name === 'NoSuchUpload') continue;
        out.problems.push(`${this.o.target}: cannot abort the upload of ${full}: ${cause(err)}`);
      }
    }
    return out;
  }

  /** Every open upload under the prefix, through all pages of the listing. */
  async list(): Promise<OpenUpload[]> {
    if (!this.listable) return [];
    const found: OpenUpload[] = [];
    const prefix = this.o.prefix ? `${this.o.prefix}/` : '';
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      for (;;) {
        const res = await this.o.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.o.bucket,
            ...(prefix ? { Prefix: prefix } : {}),
            ...(keyMarker ? { KeyMarker: keyMarker } : {}),
            ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
          }),
          { abortSignal: AbortSignal.timeout(CLEANUP_TIMEOUT_MS) },
        );
        for (const u of res.Uploads ?? []) {
          if (!u.Key?.startsWith(prefix) || !u.UploadId || !u.Initiated) continue;
          found.push({ key: u.Key.slice(prefix.length), uploadId: u.UploadId, initiated: u.Initiated });
        }
        const stuck = res.NextKeyMarker === keyMarker && res.NextUploadIdMarker === uploadIdMarker;
        if (!res.IsTruncated || stuck) break;
        keyMarker = res.NextKeyMarker;
        uploadIdMarker = res.NextUploadIdMarker;
      }
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NotImplemented' || e.$metadata?.httpStatusCode === 501) {
        this.listable = false;
        this.o.log.info(
          { target: this.o.target },
          'this store cannot list multipart uploads: incomplete ones are left to the bucket lifecycle rule',
        );
        return [];
      }
      throw externalError(
        ErrorCode.S3_FAILED,
        `${this.o.target} s3://${this.o.bucket}/${this.o.prefix}: cannot list incomplete multipart uploads: ${cause(err)}`,
        { cause: err },
      );
    }
    return found;
  }

  private full(key: string): string {
    return this.o.prefix ? `${this.o.prefix}/${key}` : key;
  }
}

function cause(err: unknown): string {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : '';
  return `${e.message || e.name || String(err)}${status}`;
}
