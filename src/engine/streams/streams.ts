// Stream stages of the pipeline: hashing, inspection, and fan-out to every target.
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback, Writable } from 'node:stream';
import { AppError, ErrorCode, externalError } from '../../errors.js';

/** Counts bytes and computes sha256 of everything that passes through. */
export class HashCounter extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;
  private digest: string | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  get sha256(): string {
    this.digest ??= this.hash.digest('hex');
    return this.digest;
  }
}

/**
 * Watches the raw (uncompressed) stream: byte count, the first and last few KiB. Used to prove
 * a dump is more than a header and ended with its tool's completion marker.
 */
export class StreamInspector extends Transform {
  bytes = 0;
  private headChunks: Buffer[] = [];
  private headBytes = 0;
  /** The last `keep` bytes so far, in one buffer reused for the whole stream (no new buffer per chunk). */
  private readonly tailBuf: Buffer;
  private tailLen = 0;

  constructor(private readonly keep = 4096) {
    super();
    this.tailBuf = Buffer.allocUnsafe(keep);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.headBytes < this.keep) {
      const part = chunk.subarray(0, this.keep - this.headBytes);
      this.headChunks.push(Buffer.from(part));
      this.headBytes += part.length;
    }
    if (chunk.length >= this.keep) {
      chunk.copy(this.tailBuf, 0, chunk.length - this.keep);
      this.tailLen = this.keep;
    } else {
      // Shift the kept bytes that still belong to the tail to the front, then append the chunk.
      const old = Math.min(this.tailLen, this.keep - chunk.length);
      this.tailBuf.copyWithin(0, this.tailLen - old, this.tailLen);
      chunk.copy(this.tailBuf, old);
      this.tailLen = old + chunk.length;
    }
    callback(null, chunk);
  }

  get head(): string {
    return Buffer.concat(this.headChunks).toString('utf8');
  }

  get tail(): string {
    return this.tailBuf.toString('utf8', 0, this.tailLen);
  }
}

/**
 * Writes every chunk to all destinations at once and waits for the slowest (backpressure), so
 * one pass feeds the local file and every bucket. If any destination fails, the fan-out fails
 * with that error and the caller aborts the others.
 */
export class FanOut extends Writable {
  private readonly destinations: Array<NodeJS.WritableStream & { destroy(error?: Error): void }>;

  constructor(
    named: Array<{ name: string; stream: NodeJS.WritableStream & { destroy(error?: Error): void } }>,
  ) {
    super({ highWaterMark: 256 * 1024 });
    this.destinations = named.map((d) => d.stream);
    for (const d of named) {
      d.stream.on('error', (err: Error) =>
        this.destroy(
          err instanceof AppError
            ? err
            : externalError(ErrorCode.TARGET_WRITE_FAILED, `writing to ${d.name} failed: ${err.message}`, {
                cause: err,
              }),
        ),
      );
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    let waiting = 0;
    const release = () => {
      waiting -= 1;
      if (waiting === 0) callback();
    };
    for (const d of this.destinations) {
      if (!d.write(chunk)) {
        waiting += 1;
        d.once('drain', release);
      }
    }
    if (waiting === 0) callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    for (const d of this.destinations) d.end();
    callback();
  }
}

/** Reads a stream to the end and returns its sha256 and size. */
export async function hashStream(stream: NodeJS.ReadableStream): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}
