import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { FanOut, HashCounter, hashStream, StreamInspector } from '../../../../src/engine/streams/streams.js';
import { AppError } from '../../../../src/errors.js';

/** Pieces of varied sizes (0..3*max) that together are `data`. */
function chunked(data: Buffer, max: number): Buffer[] {
  const pieces: Buffer[] = [];
  let at = 0;
  let i = 0;
  while (at < data.length) {
    const size = ((i * 7919) % (3 * max)) + 1;
    pieces.push(data.subarray(at, at + size));
    at += size;
    i += 1;
  }
  return pieces;
}

/** A writable that records what it receives; `gate` holds each write until it is opened. */
function recorder(options: { highWaterMark?: number; gated?: boolean; failOnWrite?: Error } = {}) {
  const received: Buffer[] = [];
  const held: Array<() => void> = [];
  let open = !options.gated;
  const stream = new Writable({
    highWaterMark: options.highWaterMark ?? 16 * 1024,
    write(chunk: Buffer, _enc, cb) {
      if (options.failOnWrite) return cb(options.failOnWrite);
      received.push(Buffer.from(chunk));
      if (open) cb();
      else held.push(() => cb());
    },
  });
  return {
    stream,
    received,
    get bytes() {
      return Buffer.concat(received);
    },
    openGate() {
      open = true;
      for (const release of held.splice(0)) release();
    },
  };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('HashCounter', () => {
  it('computes the same sha256 and size as node:crypto, and passes the data through unchanged', async () => {
    const data = randomBytes(300_000);
    const hasher = new HashCounter();
    const out = recorder();

    await pipeline(Readable.from(chunked(data, 10_000)), hasher, out.stream);

    expect(hasher.sha256).toBe(sha256(data));
    expect(hasher.bytes).toBe(data.length);
    expect(out.bytes.equals(data)).toBe(true);
  });

  it('gives the hash of nothing for an empty stream', async () => {
    const hasher = new HashCounter();

    await pipeline(Readable.from([]), hasher, recorder().stream);

    expect(hasher.bytes).toBe(0);
    expect(hasher.sha256).toBe(sha256(Buffer.alloc(0)));
  });

  it('returns the same digest when read twice', async () => {
    const hasher = new HashCounter();
    await pipeline(Readable.from([Buffer.from('abc')]), hasher, recorder().stream);

    const first = hasher.sha256;
    const second = hasher.sha256;

    expect(second).toBe(first);
    expect(first).toBe(sha256(Buffer.from('abc')));
  });
});

describe('hashStream', () => {
  it('reads a stream to its end and returns sha256 and size', async () => {
    const data = randomBytes(50_000);

    const result = await hashStream(Readable.from(chunked(data, 1000)));

    expect(result).toEqual({ sha256: sha256(data), bytes: data.length });
  });
});

describe('StreamInspector', () => {
  // Printable ASCII so that head/tail (strings) map one character to one byte.
  const text = (n: number) =>
    Buffer.from(Array.from({ length: n }, (_, i) => String.fromCharCode(33 + ((i * 31) % 90))).join(''));

  it.each([
    ['chunks smaller than the window', 3],
    ['chunks around the window size', 8],
    ['chunks larger than the window', 40],
  ])('keeps the first and last bytes and counts all of them over %s', async (_label, max) => {
    const data = text(5_000);
    const inspector = new StreamInspector(10);
    const out = recorder();

    await pipeline(Readable.from(chunked(data, max)), inspector, out.stream);

    expect(inspector.bytes).toBe(5_000);
    expect(inspector.head).toBe(data.subarray(0, 10).toString());
    expect(inspector.tail).toBe(data.subarray(data.length - 10).toString());
    expect(out.bytes.equals(data)).toBe(true);
  });

  it('keeps the right tail over chunks of every size, small ones after large ones too', async () => {
    const data = text(30_000);
    const sizes = [1, 5000, 7, 4095, 4096, 4097, 3, 2, 9000, 64, 1];
    const chunks: Buffer[] = [];
    for (let at = 0, i = 0; at < data.length; i++) {
      const n = sizes[i % sizes.length] as number;
      chunks.push(data.subarray(at, at + n));
      at += n;
    }
    const inspector = new StreamInspector();
    const out = recorder();

    await pipeline(Readable.from(chunks), inspector, out.stream);

    expect(inspector.tail).toBe(data.subarray(data.length - 4096).toString());
    expect(inspector.head).toBe(data.subarray(0, 4096).toString());
    expect(out.bytes.equals(data)).toBe(true);
  });

  it('head and tail are the whole stream when it is shorter than the window', async () => {
    const inspector = new StreamInspector(100);

    await pipeline(
      Readable.from([Buffer.from('-- dump '), Buffer.from('completed')]),
      inspector,
      recorder().stream,
    );

    expect(inspector.head).toBe('-- dump completed');
    expect(inspector.tail).toBe('-- dump completed');
    expect(inspector.bytes).toBe(17);
  });

  it('keeps 4 KiB at each end by default', async () => {
    const data = text(20_000);
    const inspector = new StreamInspector();

    await pipeline(Readable.from(chunked(data, 1000)), inspector, recorder().stream);

    expect(inspector.head).toBe(data.subarray(0, 4096).toString());
    expect(inspector.tail).toBe(data.subarray(20_000 - 4096).toString());
  });
});

/** Destinations as FanOut takes them: each with the name of its target. */
const targets = (...streams: Writable[]) => streams.map((stream, i) => ({ name: `target-${i}`, stream }));

describe('FanOut', () => {
  it('writes identical bytes to every destination and ends them all', async () => {
    const data = randomBytes(500_000);
    const a = recorder();
    const b = recorder({ highWaterMark: 1024 });
    const c = new PassThrough();
    const fromC = hashStream(c);

    await pipeline(Readable.from(chunked(data, 20_000)), new FanOut(targets(a.stream, b.stream, c)));
    await Promise.all([finished(a.stream), finished(b.stream)]);

    expect(a.bytes.equals(data)).toBe(true);
    expect(b.bytes.equals(data)).toBe(true);
    expect(await fromC).toEqual({ sha256: sha256(data), bytes: data.length });
  });

  it('waits for a slow destination before giving the next chunk to anyone', async () => {
    const slow = recorder({ highWaterMark: 16, gated: true });
    const fast = recorder();
    const fan = new FanOut(targets(slow.stream, fast.stream));
    const chunks = [Buffer.alloc(1024, 1), Buffer.alloc(1024, 2), Buffer.alloc(1024, 3)];

    for (const c of chunks) fan.write(c);
    await tick();
    await tick();
    const whileBlocked = { slow: slow.received.length, fast: fast.received.length };
    slow.openGate();
    fan.end();
    await finished(fan);
    await Promise.all([finished(slow.stream), finished(fast.stream)]);

    expect(whileBlocked).toEqual({ slow: 1, fast: 1 });
    expect(slow.bytes.equals(Buffer.concat(chunks))).toBe(true);
    expect(fast.bytes.equals(Buffer.concat(chunks))).toBe(true);
  });

  it('pushes back on its writer while a destination is stalled', async () => {
    const slow = recorder({ highWaterMark: 16, gated: true });
    const fan = new FanOut(targets(slow.stream, recorder().stream));
    const chunk = Buffer.alloc(64 * 1024);

    const accepted = [1, 2, 3, 4, 5, 6].map(() => fan.write(chunk));
    await tick();
    slow.openGate();
    fan.end();
    await finished(fan);

    expect(accepted.slice(0, 3)).toEqual([true, true, true]);
    expect(accepted.at(-1)).toBe(false);
  });

  it('fails with TARGET_WRITE_FAILED naming the destination that failed, keeping the cause', async () => {
    const boom = new Error('bucket went away');
    const good = recorder();
    const bad = recorder({ failOnWrite: boom });
    const fan = new FanOut([
      { name: 'local', stream: good.stream },
      { name: 's3:company-backups', stream: bad.stream },
    ]);

    const flow = pipeline(Readable.from([Buffer.from('a'), Buffer.from('b')]), fan);

    const err = await flow.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({
      code: 'TARGET_WRITE_FAILED',
      kind: 'external',
      message: 'writing to s3:company-backups failed: bucket went away',
    });
    expect((err as AppError).cause).toBe(boom);
  });

  it('passes an AppError from a destination through unchanged', async () => {
    const specific = new AppError('S3_UPLOAD_FAILED', 'external', 'upload of part 3 failed');
    const fan = new FanOut([{ name: 's3', stream: recorder({ failOnWrite: specific }).stream }]);

    const flow = pipeline(Readable.from([Buffer.from('a')]), fan);

    await expect(flow).rejects.toBe(specific);
  });

  it('fails when a destination errors on its own, between writes', async () => {
    const dest = recorder();
    const fan = new FanOut([
      { name: 'local', stream: dest.stream },
      { name: 's3', stream: recorder().stream },
    ]);
    const failed = finished(fan);

    dest.stream.destroy(new Error('disk full'));

    await expect(failed).rejects.toThrow('writing to local failed: disk full');
  });
});
