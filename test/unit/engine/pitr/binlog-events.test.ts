import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { BinlogEvents } from '../../../../src/engine/pitr/binlog-events.js';

const MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);

/** A v4 event: 19-byte header (time, type, server id, size, end position, flags) and a body. */
function event(time: number, type: number, body: number, start: number): Buffer {
  const size = 19 + body;
  const b = Buffer.alloc(size, 0x61);
  b.writeUInt32LE(time, 0);
  b.writeUInt8(type, 4);
  b.writeUInt32LE(1, 5);
  b.writeUInt32LE(size, 9);
  b.writeUInt32LE(start + size, 13);
  b.writeUInt16LE(0, 17);
  return b;
}

/** A log: format description (15) at 1000, a statement (2) at 1001, a commit (16) at 1002, rotate (4) at 1003. */
function binlog(): { bytes: Buffer; offsets: number[] } {
  const parts: Buffer[] = [MAGIC];
  const offsets: number[] = [];
  let pos = 4;
  for (const [time, type, body] of [
    [1000, 15, 60],
    [1001, 2, 40],
    [1002, 16, 8],
    [1003, 4, 20],
  ] as const) {
    offsets.push(pos);
    const e = event(time, type, body, pos);
    parts.push(e);
    pos += e.length;
  }
  return { bytes: Buffer.concat(parts), offsets };
}

/** Feeds the bytes in small uneven chunks, as a network stream would. */
function chunked(b: Buffer): Readable {
  const pieces: Buffer[] = [];
  let at = 0;
  for (const n of [3, 7, 19, 1, 50]) {
    pieces.push(b.subarray(at, at + n));
    at += n;
  }
  pieces.push(b.subarray(at));
  return Readable.from(pieces);
}

describe('BinlogEvents', () => {
  it('passes a log through unchanged and reads its first and last event times', async () => {
    const { bytes } = binlog();
    const events = new BinlogEvents();

    const out = await buffer(chunked(bytes).pipe(events));

    expect(out.equals(bytes)).toBe(true);
    expect([events.firstAt, events.lastAt, events.lastChangeAt, events.events]).toEqual([
      1000, 1003, 1002, 4,
    ]);
  });

  it('drops the events before a start position except the format description', async () => {
    const { bytes, offsets } = binlog();
    const events = new BinlogEvents({ startPosition: offsets[2] as number });

    const out = await buffer(chunked(bytes).pipe(events));

    const expected = Buffer.concat([bytes.subarray(0, offsets[1]), bytes.subarray(offsets[2])]);
    expect(out.equals(expected)).toBe(true);
  });

  it('passes nothing from the first event stamped at or after the stop time', async () => {
    const { bytes, offsets } = binlog();
    const events = new BinlogEvents({ stopAt: 1002 });

    const out = await buffer(chunked(bytes).pipe(events));

    expect(out.equals(bytes.subarray(0, offsets[2]))).toBe(true);
    expect(events.reachedStop).toBe(true);
    expect(events.lastChangeAt).toBe(1001);
  });

  it('fails a log cut inside an event, and bytes that are not a binary log', async () => {
    const { bytes } = binlog();

    await expect(
      buffer(Readable.from([bytes.subarray(0, bytes.length - 5)]).pipe(new BinlogEvents())),
    ).rejects.toThrow(/truncated/);
    await expect(
      buffer(Readable.from([Buffer.from('-- not a binlog')]).pipe(new BinlogEvents())),
    ).rejects.toThrow(/not a binary log/);
  });
});
