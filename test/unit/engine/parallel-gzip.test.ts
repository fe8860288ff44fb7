import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ParallelGzip } from '../../../src/engine/parallel-gzip.js';

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

describe('ParallelGzip', () => {
  it('gives a gzip file that gunzip and zlib read back byte for byte, across many blocks', async () => {
    const text = Buffer.from(
      Array.from({ length: 40_000 }, (_, i) => `INSERT INTO t VALUES (${i}, 'row ${i % 97}');\n`).join(''),
    );
    const data = Buffer.concat([text, randomBytes(300_000), text]);
    const chunks = Array.from({ length: Math.ceil(data.length / 65_536) }, (_, i) =>
      data.subarray(i * 65_536, (i + 1) * 65_536),
    );

    const gz = await compress(chunks, new ParallelGzip(6, 256 * 1024, 3));

    expect(gunzipSync(gz).equals(data)).toBe(true);
    expect(execFileSync('gunzip', ['-c'], { input: gz, maxBuffer: 64 << 20 }).equals(data)).toBe(true);
    expect(gz.length).toBeLessThan(data.length);
  });

  it('turns an empty stream into a valid empty gzip file', async () => {
    const gz = await compress([], new ParallelGzip(6));

    expect(gz.length).toBeGreaterThan(0);
    expect(gunzipSync(gz).length).toBe(0);
  });
});
