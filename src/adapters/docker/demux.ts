import { Transform, type TransformCallback } from 'node:stream';

/**
 * Splits Docker's multiplexed exec/attach stream (8-byte header: stream type, 3 zero bytes,
 * big-endian payload size) into stdout — pushed downstream with backpressure — and stderr,
 * of which only a bounded tail is kept. docker-modem's demuxStream ignores backpressure,
 * which lets a fast dump fill memory while a slow upload drains; this one does not.
 */
export class DockerDemux extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private stderrChunks: Buffer[] = [];
  private stderrBytes = 0;

  constructor(private readonly stderrLimit = 8192) {
    super();
  }

  get stderrTail(): string {
    return Buffer.concat(this.stderrChunks).toString('utf8');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 8) {
      const type = buf[0];
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      const payload = buf.subarray(8, 8 + size);
      if (type === 2) this.keepStderr(payload);
      else this.push(payload);
      buf = buf.subarray(8 + size);
    }
    this.pending = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    // A truncated frame at the end means the connection broke mid-frame.
    if (this.pending.length)
      callback(new Error(`docker stream ended inside a frame (${this.pending.length} bytes left)`));
    else callback();
  }

  private keepStderr(payload: Buffer): void {
    this.stderrChunks.push(Buffer.from(payload.subarray(Math.max(0, payload.length - this.stderrLimit))));
    this.stderrBytes += Math.min(payload.length, this.stderrLimit);
    while (this.stderrBytes > this.stderrLimit) {
      const first = this.stderrChunks[0] as Buffer;
      const excess = this.stderrBytes - this.stderrLimit;
      if (first.length <= excess) {
        this.stderrChunks.shift();
        this.stderrBytes -= first.length;
      } else {
        this.stderrChunks[0] = first.subarray(excess);
        this.stderrBytes -= excess;
      }
    }
  }
}
