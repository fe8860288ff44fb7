// Reads a MySQL/MariaDB binary log's event headers as it streams past: times, and where to start and stop.
import { Transform, type TransformCallback } from 'node:stream';

/** `\xfebin`: the first four bytes of every binary log file. */
const MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
/** Every v4 event starts with a 19-byte header: time, type, server id, size, end position, flags. */
const HEADER = 19;
const FORMAT_DESCRIPTION = 15;
/** Events that end a change: a DDL or autocommit statement (QUERY), a transaction's commit (XID). */
const COMMIT_EVENTS = new Set([2, 16]);

export interface BinlogEventOptions {
  /**
   * Byte position of the first event to pass on (a dump's recorded coordinates): events before
   * it are dropped, except the format description every reader needs first. `mariadb-binlog
   * --start-position` cannot seek in standard input, so drbot skips them itself.
   */
  startPosition?: number;
  /** Unix seconds: the first event stamped at or after this is not passed on, nor anything after. */
  stopAt?: number;
}

/**
 * Passes a binary log through while reading each event's header: the first and last event
 * times, the last committed change passed on, and whether the stop time was reached. Events
 * are passed on whole or not at all; a log that ends inside an event fails as truncated.
 */
export class BinlogEvents extends Transform {
  /** Unix seconds of the first and last event seen. */
  firstAt: number | undefined;
  lastAt: number | undefined;
  /** Unix seconds of the last commit (XID) or statement (QUERY) passed on. */
  lastChangeAt: number | undefined;
  /** An event at or after `stopAt` was seen: nothing from there on was passed on. */
  reachedStop = false;
  events = 0;
  private magicLeft = MAGIC.length;
  private header = Buffer.alloc(HEADER);
  private headerLen = 0;
  private bodyLeft = 0;
  private passing = true;
  /** Absolute position of the next byte. */
  private position = 0;

  constructor(private readonly options: BinlogEventOptions = {}) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    let i = 0;
    try {
      while (i < chunk.length) {
        if (this.magicLeft > 0) {
          const take = Math.min(this.magicLeft, chunk.length - i);
          const at = MAGIC.length - this.magicLeft;
          if (!chunk.subarray(i, i + take).equals(MAGIC.subarray(at, at + take)))
            throw new Error('not a binary log: it does not start with the binlog magic number');
          this.push(chunk.subarray(i, i + take));
          this.magicLeft -= take;
          i += take;
          this.position += take;
          continue;
        }
        if (this.bodyLeft > 0) {
          const take = Math.min(this.bodyLeft, chunk.length - i);
          if (this.passing) this.push(chunk.subarray(i, i + take));
          this.bodyLeft -= take;
          i += take;
          this.position += take;
          continue;
        }
        const take = Math.min(HEADER - this.headerLen, chunk.length - i);
        chunk.copy(this.header, this.headerLen, i, i + take);
        this.headerLen += take;
        i += take;
        this.position += take;
        if (this.headerLen === HEADER) this.event();
      }
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.magicLeft > 0 || this.headerLen > 0 || this.bodyLeft > 0)
      callback(new Error(`binary log truncated at byte ${this.position}: it ends inside an event`));
    else callback();
  }

  /** A whole header has arrived: decide about its event. */
  private event(): void {
    const h = this.header;
    const at = h.readUInt32LE(0);
    const type = h.readUInt8(4);
    const size = h.readUInt32LE(9);
    if (size < HEADER)
      throw new Error(`binary log damaged at byte ${this.position - HEADER}: event size ${size}`);
    const start = this.position - HEADER;
    this.events++;
    // A rotate written when a server starts a new log has time 0: it says nothing about time.
    if (at > 0) {
      this.firstAt ??= at;
      this.lastAt = at;
    }
    const { startPosition, stopAt } = this.options;
    if (stopAt !== undefined && at >= stopAt && type !== FORMAT_DESCRIPTION) this.reachedStop = true;
    const before = startPosition !== undefined && start < startPosition && type !== FORMAT_DESCRIPTION;
    this.passing = !this.reachedStop && !before;
    if (this.passing) {
      this.push(Buffer.from(h));
      if (COMMIT_EVENTS.has(type) && at > 0) this.lastChangeAt = at;
    }
    this.headerLen = 0;
    this.bodyLeft = size - HEADER;
  }
}
