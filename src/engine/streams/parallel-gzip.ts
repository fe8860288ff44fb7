// gzip on every core in independent blocks, as one valid gzip stream.
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import { deflateRaw, gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);
const deflateRawAsync = promisify(deflateRaw);

const KiB = 1024;

export interface ParallelGzipOptions {
  /** zlib level, 1 (fastest) to 9. */
  level: number;
  /** Bytes per gzip member; each block is compressed on its own. */
  blockSize?: number;
  /** Blocks compressed at the same time (in libuv's thread pool). */
  concurrency?: number;
  /**
   * Store blocks that do not compress (already-compressed media, archives, encrypted data)
   * instead of deflating them: deflate spends 3–5× more CPU on such data for no gain.
   */
  storeIncompressible?: boolean;
}

/**
 * zlib's output buffer for one block: room for all of it (stored blocks add 5 bytes per 64 KiB,
 * plus the gzip header and trailer), so a block is deflated in one pass in the thread pool
 * instead of in many 16 KiB rounds through the main thread.
 */
function outputRoom(n: number): number {
  return Math.max(64 * KiB, n + (n >> 10) + 64 * KiB);
}

/** A block is stored as-is when a sample of it shrinks by less than this. */
const INCOMPRESSIBLE_RATIO = 0.97;
const SAMPLE_WINDOW = 8 * KiB;

/**
 * gzip on every core: the stream is cut into blocks that are compressed at the same time (zlib
 * runs in libuv's thread pool) and written in order, each as its own gzip member. Concatenated
 * members are one valid gzip file (RFC 1952): `gunzip -c`, `tar xzf` and zlib read it as usual.
 * A block whose sample does not compress is written as stored deflate blocks (level 0), still
 * plain gzip. At most `concurrency` blocks are in flight, which bounds memory and keeps
 * backpressure.
 */
export class ParallelGzip extends Transform {
  /** Input bytes written as stored (uncompressed) deflate blocks. */
  storedBytes = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private inFlight: Array<Promise<Buffer>> = [];
  private members = 0;
  private readonly level: number;
  private readonly blockSize: number;
  private readonly concurrency: number;
  private readonly storeIncompressible: boolean;

  constructor(options: ParallelGzipOptions) {
    super({ highWaterMark: 256 * KiB });
    this.level = options.level;
    this.blockSize = options.blockSize ?? 1024 * KiB;
    this.concurrency = options.concurrency ?? Math.max(2, availableParallelism());
    this.storeIncompressible = options.storeIncompressible ?? true;
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
    const job = this.compress(block);
    job.catch(() => undefined); // surfaced in order by drain()
    this.inFlight.push(job);
  }

  private async compress(block: Buffer): Promise<Buffer> {
    if (this.storeIncompressible && (await this.incompressible(block))) {
      this.storedBytes += block.length;
      return gzipAsync(block, { level: 0, chunkSize: outputRoom(block.length) });
    }
    return gzipAsync(block, { level: this.level, chunkSize: outputRoom(block.length) });
  }

  /**
   * Samples the start, middle and end of a block. Only when all three do not compress is the
   * block stored; a block that mixes text and random data is compressed as usual.
   */
  private async incompressible(block: Buffer): Promise<boolean> {
    if (block.length < 4 * SAMPLE_WINDOW) return false;
    const at = [0, (block.length - SAMPLE_WINDOW) >> 1, block.length - SAMPLE_WINDOW];
    const sizes = await Promise.all(
      at.map((o) => deflateRawAsync(block.subarray(o, o + SAMPLE_WINDOW), { level: 1 })),
    );
    return sizes.every((s) => s.length >= SAMPLE_WINDOW * INCOMPRESSIBLE_RATIO);
  }

  /** Writes finished blocks, in order, until at most `keep` are still being compressed. */
  private async drain(keep: number): Promise<void> {
    while (this.inFlight.length > keep) {
      this.push(await (this.inFlight.shift() as Promise<Buffer>));
    }
  }
}
