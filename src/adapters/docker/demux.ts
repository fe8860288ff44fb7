// Splits Docker's multiplexed exec stream into stdout (passed on) and a stderr tail.
import { Transform, type TransformCallback } from 'node:stream';

/**
 * Splits Docker's multiplexed exec/attach stream (8-byte header: stream type, 3 zero bytes,
 * big-endian payload size) into stdout — pushed downstream with backpressure — and stderr,
 * of which only a bounded tail is kept. docker-modem's demuxStream ignores backpressure,
 * which lets a fast dump fill memory while a slow upload drains; this one does not.
 */
export class DockerDemux extends Transform {
  /** The header being read (it may arrive split across chunks). */
  private readonly header = Buffer.alloc(8);
  private headerFill = 0;
  /** The frame being read: its stream type, its size, and how many payload bytes are still due. */
  private type = 0;
  private size = 0;
  private remaining = 0;
  private stderrChunks: Buffer[] = [];
  private stderrBytes = 0;

  constructor(private readonly stderrLimit = 8192) {
    super();
  }

  get stderrTail(): string {
    return Buffer.concat(this.stderrChunks).toString('utf8');
  }

  /**
   * Payload bytes go on as slices of the chunk they came in, as soon as they arrive: no frame is
   * reassembled, so the stream is never copied (a dump is gigabytes) and no chunk is held back.
   */
  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining === 0) {
        const n = Math.min(8 - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + n);
        this.headerFill += n;
        at += n;
        if (this.headerFill < 8) break;
        this.headerFill = 0;
        this.type = this.header[0] as number;
        this.size = this.header.readUInt32BE(4);
        this.remaining = this.size;
        continue;
      }
      const n = Math.min(this.remaining, chunk.length - at);
      const payload = chunk.subarray(at, at + n);
      if (this.type === 2) this.keepStderr(payload);
      else this.push(payload);
      this.remaining -= n;
      at += n;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    // A truncated frame at the end means the connection broke mid-frame.
    const left = this.headerFill || (this.remaining ? 8 + this.size - this.remaining : 0);
    if (left) callback(new Error(`docker stream ended inside a frame (${left} bytes left)`));
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
