import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ParallelGzip } from '../../../../src/engine/streams/parallel-gzip.js';

async function compress(chunks: Buffer[], gz: ParallelGzip): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    gz,
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

function chunksOf(data: Buffer, size: number): Buffer[] {
  return Array.from({ length: Math.ceil(data.length / size) }, (_, i) =>
    data.subarray(i * size, (i + 1) * size),
  );
}

describe('ParallelGzip', () => {
  it('gives a gzip file that gunzip and zlib read back byte for byte, across many blocks', async () => {
    const text = Buffer.from(
      Array.from({ length: 40_000 }, (_, i) => `INSERT INTO t VALUES (${i}, 'row ${i % 97}');\n`).join(''),
    );
    const data = Buffer.concat([text, randomBytes(300_000), text]);
    const chunks = Array.from({ length: Math.ceil(data.length / 65_536) }, (_, i) =>
      data.subarray(i * 65_536, (i + 1) * 65_536),
    );

    const gz = await compress(chunks, new ParallelGzip({ level: 6, blockSize: 256 * 1024, concurrency: 3 }));

    expect(gunzipSync(gz).equals(data)).toBe(true);
    expect(execFileSync('gunzip', ['-c'], { input: gz, maxBuffer: 64 << 20 }).equals(data)).toBe(true);
    expect(gz.length).toBeLessThan(data.length);
  });

  it('stores blocks that do not compress and deflates the rest, still one plain gzip file', async () => {
    const text = Buffer.from(
      Array.from({ length: 30_000 }, (_, i) => `INSERT INTO t VALUES (${i}, 'row ${i % 97}');\n`).join(''),
    ).subarray(0, 1 << 20);
    const random = randomBytes(2 << 20);
    const mixed = Buffer.concat([text.subarray(0, 512 * 1024), random.subarray(0, 512 * 1024)]);
    const data = Buffer.concat([text, random, mixed]);
    const gzip = new ParallelGzip({ level: 1, blockSize: 1 << 20 });

    const gz = await compress(chunksOf(data, 65_536), gzip);

    // The two random blocks are stored; the text block and the half-text block are deflated.
    expect(gzip.storedBytes).toBe(2 << 20);
    expect(execFileSync('gunzip', ['-c'], { input: gz, maxBuffer: 64 << 20 }).equals(data)).toBe(true);
    expect(gz.length).toBeLessThan(data.length - text.length / 2);
    expect(gz.length).toBeGreaterThan(random.length);
  });

  it('deflates random data too when storing is off', async () => {
    const data = randomBytes(1 << 20);
    const gzip = new ParallelGzip({ level: 1, storeIncompressible: false });

    const gz = await compress([data], gzip);

    expect(gzip.storedBytes).toBe(0);
    expect(gunzipSync(gz).equals(data)).toBe(true);
  });

  it('turns an empty stream into a valid empty gzip file', async () => {
    const gz = await compress([], new ParallelGzip({ level: 6 }));

    expect(gz.length).toBeGreaterThan(0);
    expect(gunzipSync(gz).length).toBe(0);
  });
});
