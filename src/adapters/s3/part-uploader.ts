// S3 multipart upload from a stream with a fixed set of reused part buffers and per-part checks.
import { createHash, type Hash } from 'node:crypto';
import { Writable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

export interface PartUploaderOptions {
  client: S3Client;
  bucket: string;
  key: string;
  storageClass?: string | undefined;
  contentType: string;
  /** Bytes per part (S3: at least 5 MiB except the last, at most 10,000 parts). */
  partSize: number;
  /** Parts uploading at once. */
  queueSize: number;
  /**
   * Compare S3's ETags with the MD5s sent (where S3's rules make them MD5s). Off for stores whose
   * ETags are something else; Content-MD5 and the size are checked either way.
   */
  compareEtags: boolean;
  /** Turns an S3 error (or a {@link StoredBytesMismatch}) into the one reported. */
  wrap: (err: unknown) => Error;
  /** Headers the object is created with (tags, Object Lock mode and retain-until). */
  objectParams?: {
    Tagging?: string;
    ObjectLockMode?: 'GOVERNANCE' | 'COMPLIANCE';
    ObjectLockRetainUntilDate?: Date;
  };
}

/** What S3 reports it stored, checked against what was sent. */
export interface UploadReceipt {
  /** The object's size as S3 reports it (HeadObject), equal to the bytes sent. */
  bytes: number;
  parts: number;
  /** How the stored bytes were shown to be the ones sent, for messages: "…, size". */
  checked: string;
}

/** S3 answered with an ETag or size that shows it stored other bytes than were sent. */
export class StoredBytesMismatch extends Error {
  override name = 'StoredBytesMismatch';
}

/** A plain MD5 ETag (quoted hex); SSE-KMS, SSE-C and some S3-compatible stores use others. */
const MD5_ETAG = /^"?([0-9a-f]{32})"?$/i;
/** S3's ETag of a multipart object: the MD5 of the parts' MD5s, then `-<parts>`. */
const MULTIPART_ETAG = /^"?([0-9a-f]{32})-(\d+)"?$/i;

const NOT_MD5_HINT =
  " (if this store's ETags are not MD5s of the content, set confirm: read-back for this target)";

/** ETags are MD5s of the content only without SSE-KMS and SSE-C (S3's documented rule). */
function etagIsMd5(res: {
  ServerSideEncryption?: string | undefined;
  SSECustomerAlgorithm?: string | undefined;
}): boolean {
  return !res.SSECustomerAlgorithm && !res.ServerSideEncryption?.startsWith('aws:kms');
}

/**
 * A stream of unknown length uploaded to S3 as a multipart upload, with memory bounded by a
 * fixed set of part buffers: `queueSize` parts uploading and one filling, each reused once its
 * part is stored. (lib-storage's Upload concatenates every part from the chunks it read and
 * allocates a new buffer per part; with two artifacts uploading, that garbage came to about
 * 35 MB at drbot's peak.) A body that fits in one part is sent with a single PutObject.
 *
 * Integrity: every part (and a single PutObject) goes with its Content-MD5, so S3 refuses bytes
 * that changed on the way (BadDigest). Where S3's ETags are MD5s of the content (no SSE-KMS or
 * SSE-C), each part's ETag must equal the MD5 sent, and after the upload the object's size
 * (HeadObject) must equal the bytes sent and its ETag, when it has S3's form (`<md5 of the parts'
 * MD5s>-<n>`, or the body's MD5 for one PutObject), must match too. A mismatch fails the upload
 * with a {@link StoredBytesMismatch}. The MD5s are computed while the parts fill.
 *
 * Write to it; `done` settles when the object exists and was checked, with its receipt, or the
 * upload failed. `destroy()` stops it; `cleanup` then settles once the multipart upload is
 * aborted, so no parts linger. Errors are passed through `wrap`.
 */
export class PartUploader extends Writable {
  readonly done: Promise<UploadReceipt>;
  private resolveDone!: (receipt: UploadReceipt) => void;
  private rejectDone!: (err: Error) => void;
  private uploadId: Promise<string> | undefined;
  private readonly pool: Buffer[] = [];
  private current: Buffer | undefined;
  private filled = 0;
  private partNumber = 0;
  private readonly inflight = new Set<Promise<void>>();
  private readonly parts: { PartNumber: number; ETag: string }[] = [];
  /** Each part's MD5, by part number (for the multipart ETag). */
  private readonly digests = new Map<number, Buffer>();
  private md5: Hash | undefined;
  private sent = 0;
  private readonly cancel = new AbortController();
  private failure: Error | undefined;
  /** Set once the whole body is handed over: the object is being created. */
  finishing = false;
  private stored = false;

  constructor(private readonly o: PartUploaderOptions) {
    super({ highWaterMark: 256 * 1024 });
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => undefined);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.take(chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.finishing = true;
    this.finish().then(
      (receipt) => {
        this.stored = true;
        this.resolveDone(receipt);
        callback();
      },
      (err: Error) => {
        this.rejectDone(err);
        callback(err);
      },
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.stored) {
      callback(error);
      return;
    }
    if (error) this.failure ??= error;
    this.cancel.abort();
    this.rejectDone(error ?? new Error('upload stopped'));
    // The parts already stored are removed; the caller's abort() waits for this.
    this.cleanup = this.removeParts();
    callback(error);
  }

  /** Settles when a stopped upload has removed what it had stored (best effort). */
  cleanup: Promise<void> = Promise.resolve();

  private async take(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.failure) throw this.failure;
      if (!this.current) {
        // At most queueSize + 1 buffers exist: ship() waits while queueSize are in flight.
        this.current = this.pool.pop() ?? Buffer.allocUnsafe(this.o.partSize);
        this.filled = 0;
        this.md5 = createHash('md5');
      }
      const n = chunk.copy(this.current, this.filled, offset);
      this.md5?.update(this.current.subarray(this.filled, this.filled + n));
      offset += n;
      this.filled += n;
      if (this.filled === this.o.partSize) await this.ship();
    }
  }

  /** Starts uploading the filled buffer and waits while too many parts are in flight. */
  private async ship(): Promise<void> {
    const buffer = this.current as Buffer;
    const length = this.filled;
    const md5 = this.takeDigest();
    this.current = undefined;
    this.filled = 0;
    const number = ++this.partNumber;
    this.digests.set(number, md5);
    this.sent += length;
    const upload: Promise<void> = this.uploadPart(buffer, length, number, md5).then(
      () => {
        this.inflight.delete(upload);
        this.pool.push(buffer);
      },
      (err: unknown) => {
        this.inflight.delete(upload);
        this.failure ??= this.o.wrap(err);
        throw this.failure;
      },
    );
    upload.catch(() => undefined);
    this.inflight.add(upload);
    while (this.inflight.size >= this.o.queueSize) await Promise.race(this.inflight);
  }

  /** The MD5 of the part filling now (of nothing when no part has started). */
  private takeDigest(): Buffer {
    const md5 = this.md5 ?? createHash('md5');
    this.md5 = undefined;
    return md5.digest();
  }

  private async uploadPart(buffer: Buffer, length: number, number: number, md5: Buffer): Promise<void> {
    const uploadId = await this.create();
    const res = await this.o.client.send(
      new UploadPartCommand({
        Bucket: this.o.bucket,
        Key: this.o.key,
        UploadId: uploadId,
        PartNumber: number,
        Body: buffer.subarray(0, length),
        ContentLength: length,
        ContentMD5: md5.toString('base64'),
      }),
      { abortSignal: this.cancel.signal },
    );
    if (!res.ETag) throw new Error(`part ${number} was stored without an ETag`);
    const plain = MD5_ETAG.exec(res.ETag)?.[1];
    if (this.o.compareEtags && plain && etagIsMd5(res) && plain.toLowerCase() !== md5.toString('hex'))
      throw new StoredBytesMismatch(
        `part ${number} (${length} bytes) was stored with ETag ${plain}, but the MD5 of the bytes sent is ${md5.toString('hex')}${NOT_MD5_HINT}`,
      );
    this.parts.push({ PartNumber: number, ETag: res.ETag });
  }

  private create(): Promise<string> {
    this.uploadId ??= this.o.client
      .send(
        new CreateMultipartUploadCommand({
          Bucket: this.o.bucket,
          Key: this.o.key,
          ContentType: this.o.contentType,
          ...(this.o.storageClass ? { StorageClass: this.o.storageClass as never } : {}),
          ...this.o.objectParams,
        }),
        { abortSignal: this.cancel.signal },
      )
      .then((res) => {
        if (!res.UploadId) throw new Error('S3 returned no UploadId for the multipart upload');
        return res.UploadId;
      });
    return this.uploadId;
  }

  private async finish(): Promise<UploadReceipt> {
    try {
      if (this.partNumber === 0) {
        // The whole body fits in one part: one PutObject.
        const body = this.current ? this.current.subarray(0, this.filled) : Buffer.alloc(0);
        const md5 = this.takeDigest();
        await this.o.client.send(
          new PutObjectCommand({
            Bucket: this.o.bucket,
            Key: this.o.key,
            Body: body,
            ContentLength: body.length,
            ContentMD5: md5.toString('base64'),
            ContentType: this.o.contentType,
            ...(this.o.storageClass ? { StorageClass: this.o.storageClass as never } : {}),
            ...this.o.objectParams,
          }),
        );
        return await this.check(body.length, 0, md5.toString('hex'));
      }
      if (this.filled > 0) await this.ship();
      while (this.inflight.size) await Promise.race(this.inflight);
      if (this.failure) throw this.failure;
      const uploadId = await this.create();
      await this.o.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.o.bucket,
          Key: this.o.key,
          UploadId: uploadId,
          MultipartUpload: { Parts: [...this.parts].sort((a, b) => a.PartNumber - b.PartNumber) },
        }),
      );
      const ofParts = createHash('md5');
      for (let n = 1; n <= this.partNumber; n++) ofParts.update(this.digests.get(n) as Buffer);
      return await this.check(this.sent, this.partNumber, `${ofParts.digest('hex')}-${this.partNumber}`);
    } catch (err) {
      const e = this.failure ?? this.o.wrap(err);
      this.failure = e;
      this.cancel.abort();
      await this.removeParts();
      throw e;
    } finally {
      this.current = undefined;
      this.pool.length = 0;
    }
  }

  /**
   * Asks S3 what it now holds under the key: the size must be the bytes sent; an ETag in S3's
   * form for this kind of upload must be `expected`. (Some S3-compatible stores give a multipart
   * object the MD5 of its whole content instead; then the parts' ETags and the size are what
   * show the bytes arrived.) A mismatch here means the object is not what was sent: it is
   * reported, and the caller's abort deletes it.
   */
  private async check(bytes: number, parts: number, expected: string): Promise<UploadReceipt> {
    const head = await this.o.client.send(new HeadObjectCommand({ Bucket: this.o.bucket, Key: this.o.key }));
    if (head.ContentLength !== bytes)
      throw new StoredBytesMismatch(`S3 holds ${head.ContentLength} bytes, but ${bytes} were sent`);
    const checked: string[] = [];
    if (this.o.compareEtags && etagIsMd5(head)) {
      const etag = (parts ? MULTIPART_ETAG : MD5_ETAG).exec(head.ETag ?? '');
      const got = etag && (parts ? `${etag[1]}-${etag[2]}` : etag[1])?.toLowerCase();
      if (got && got !== expected)
        throw new StoredBytesMismatch(
          `S3 reports ETag ${got}, but the bytes sent give ${expected}${NOT_MD5_HINT}`,
        );
      if (got) checked.push(parts ? 'object ETag' : 'ETag');
      // Per-part ETags were compared as the answers came in (when they were plain MD5s).
      if (parts && this.parts.some((p) => MD5_ETAG.test(p.ETag))) checked.unshift('part ETags');
    }
    checked.unshift(parts ? 'Content-MD5 of every part' : 'Content-MD5');
    checked.push('size');
    return { bytes, parts: Math.max(parts, 1), checked: checked.join(', ') };
  }

  /** Aborts the multipart upload so no parts linger (once, best effort). */
  private removing: Promise<void> | undefined;
  private removeParts(): Promise<void> {
    this.removing ??= (async () => {
      const pending = [...this.inflight];
      await Promise.allSettled(pending);
      const uploadId = await this.uploadId?.catch(() => undefined);
      if (!uploadId) return;
      await this.o.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.o.bucket, Key: this.o.key, UploadId: uploadId }))
        .then(
          () => undefined,
          () => undefined,
        );
    })();
    return this.removing;
  }
}
