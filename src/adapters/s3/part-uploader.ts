import { Writable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
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
  /** Turns an S3 error into the one reported. */
  wrap: (err: unknown) => Error;
}

/**
 * A stream of unknown length uploaded to S3 as a multipart upload, with memory bounded by a
 * fixed set of part buffers: `queueSize` parts uploading and one filling, each reused once its
 * part is stored. (lib-storage's Upload concatenates every part from the chunks it read and
 * allocates a new buffer per part; with two artifacts uploading, that garbage came to about
 * 35 MB at drbot's peak.) A body that fits in one part is sent with a single PutObject.
 *
 * Write to it; `done` settles when the object exists (CompleteMultipartUpload answered) or the
 * upload failed. `destroy()` stops it; `cleanup` then settles once the multipart upload is
 * aborted, so no parts linger. Errors are passed through `wrap`.
 */
export class PartUploader extends Writable {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (err: Error) => void;
  private uploadId: Promise<string> | undefined;
  private readonly pool: Buffer[] = [];
  private current: Buffer | undefined;
  private filled = 0;
  private partNumber = 0;
  private readonly inflight = new Set<Promise<void>>();
  private readonly parts: { PartNumber: number; ETag: string }[] = [];
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
      () => {
        this.stored = true;
        this.resolveDone();
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
      }
      const n = chunk.copy(this.current, this.filled, offset);
      offset += n;
      this.filled += n;
      if (this.filled === this.o.partSize) await this.ship();
    }
  }

  /** Starts uploading the filled buffer and waits while too many parts are in flight. */
  private async ship(): Promise<void> {
    const buffer = this.current as Buffer;
    const length = this.filled;
    this.current = undefined;
    this.filled = 0;
    const number = ++this.partNumber;
    const upload: Promise<void> = this.uploadPart(buffer, length, number).then(
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

  private async uploadPart(buffer: Buffer, length: number, number: number): Promise<void> {
    const uploadId = await this.create();
    const res = await this.o.client.send(
      new UploadPartCommand({
        Bucket: this.o.bucket,
        Key: this.o.key,
        UploadId: uploadId,
        PartNumber: number,
        Body: buffer.subarray(0, length),
        ContentLength: length,
      }),
      { abortSignal: this.cancel.signal },
    );
    if (!res.ETag) throw new Error(`part ${number} was stored without an ETag`);
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
        }),
        { abortSignal: this.cancel.signal },
      )
      .then((res) => {
        if (!res.UploadId) throw new Error('S3 returned no UploadId for the multipart upload');
        return res.UploadId;
      });
    return this.uploadId;
  }

  private async finish(): Promise<void> {
    try {
      if (this.partNumber === 0) {
        // The whole body fits in one part: one PutObject.
        const body = this.current ? this.current.subarray(0, this.filled) : Buffer.alloc(0);
        await this.o.client.send(
          new PutObjectCommand({
            Bucket: this.o.bucket,
            Key: this.o.key,
            Body: body,
            ContentLength: body.length,
            ContentType: this.o.contentType,
            ...(this.o.storageClass ? { StorageClass: this.o.storageClass as never } : {}),
          }),
        );
        return;
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
