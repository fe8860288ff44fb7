import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

/**
 * gzip on every core: the stream is cut into blocks that are compressed at the same time (zlib
 * runs in libuv's thread pool) and written in order, each as its own gzip member. Concatenated
 * members are one valid gzip file (RFC 1952): `gunzip -c`, `tar xzf` and zlib read it as usual.
 * At most `concurrency` blocks are in flight, which bounds memory and keeps backpressure.
 */
export class ParallelGzip extends Transform {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private inFlight: Array<Promise<Buffer>> = [];
  private members = 0;

  constructor(
    private readonly level: number,
    private readonly blockSize = 4 * 1024 * 1024,
    private readonly concurrency = Math.max(2, availableParallelism()),
  ) {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= this.blockSize) this.submit(this.cutBlock(this.blockSize));
    this.drain(this.concurrency - 1).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    // Even an empty stream must become a valid (empty) gzip file.
    if (this.pendingBytes > 0 || this.members === 0) this.submit(this.cutBlock(this.pendingBytes));
    this.drain(0).then(() => callback(), callback);
  }

  private cutBlock(n: number): Buffer {
    const all = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending);
    const block = all.subarray(0, n);
    const rest = all.subarray(n);
    this.pending = rest.length ? [rest] : [];
    this.pendingBytes = rest.length;
    return block;
  }

  private submit(block: Buffer): void {
    this.members += 1;
    const job = gzipAsync(block, { level: this.level });
    job.catch(() => undefined); // surfaced in order by drain()
    this.inFlight.push(job);
  }

  /** Writes finished blocks, in order, until at most `keep` are still being compressed. */
  private async drain(keep: number): Promise<void> {
    while (this.inFlight.length > keep) {
      this.push(await (this.inFlight.shift() as Promise<Buffer>));
    }
  }
}
