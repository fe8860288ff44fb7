import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import {
  type Compression,
  compressorFor,
  hasIgzip,
  igzipLevel,
  igzipStream,
} from '../../../../src/engine/streams/compressor.js';
import { AppError } from '../../../../src/errors.js';

async function run(c: Compression, input: Buffer[]): Promise<{ out: Buffer; piped: unknown; done: unknown }> {
  const out: Buffer[] = [];
  const [piped, done] = await Promise.allSettled([
    pipeline(
      Readable.from(input),
      c.stream,
      new Writable({
        write(chunk: Buffer, _e, cb) {
          out.push(chunk);
          cb();
        },
      }),
    ),
    c.done,
  ]);
  return {
    out: Buffer.concat(out),
    piped: piped.status === 'rejected' ? piped.reason : undefined,
    done: done.status === 'rejected' ? done.reason : undefined,
  };
}

function fakeBin(script: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'drbot-fake-igzip-'));
  const bin = join(dir, 'igzip');
  writeFileSync(bin, `#!/bin/sh\n${script}\n`);
  chmodSync(bin, 0o755);
  return bin;
}

const text = Buffer.from(
  Array.from({ length: 50_000 }, (_, i) => `INSERT INTO t VALUES (${i}, 'row ${i % 97}');\n`).join(''),
);

describe('compressor', () => {
  // The test environment installs igzip (scripts/test-env); without it this fails, it does not skip.
  it('finds igzip on this machine', async () => {
    expect(await hasIgzip()).toBe(true);
  });

  it('with igzip, writes plain gzip that gunzip reads back byte for byte, empty input included', async () => {
    const make = await compressorFor('auto', 1);
    const data = Buffer.concat([text, randomBytes(600_000), text]);

    const c = make();
    const { out, piped, done } = await run(c, [data.subarray(0, 100_000), data.subarray(100_000)]);
    const empty = await run(make(), []);

    expect(c.tool).toBe('igzip -1');
    expect([piped, done]).toEqual([undefined, undefined]);
    expect(execFileSync('gunzip', ['-c'], { input: out, maxBuffer: 64 << 20 }).equals(data)).toBe(true);
    expect(execFileSync('gunzip', ['-c'], { input: empty.out }).length).toBe(0);
  });

  it('with zlib chosen, uses Node zlib', async () => {
    const c = (await compressorFor('zlib', 3))();
    const { out, done } = await run(c, [text]);

    expect(c.tool).toBe('zlib -3');
    expect(done).toBeUndefined();
    expect(execFileSync('gunzip', ['-c'], { input: out, maxBuffer: 64 << 20 }).equals(text)).toBe(true);
  });

  it('reports a compressor that fails, with its exit code and stderr, even when its output ended cleanly', async () => {
    const bin = fakeBin('head -c 1000 >/dev/null; echo "igzip: out of memory" >&2; exit 3');
    const c = igzipStream(1, bin);

    const { done } = await run(c, [text]);

    expect(done).toBeInstanceOf(AppError);
    expect((done as AppError).code).toBe('COMPRESS_FAILED');
    expect((done as AppError).message).toMatch(/exited with code 3/);
    expect((done as AppError).stderrTail).toContain('out of memory');
  });

  it('stops igzip when the pipeline is torn down', async () => {
    const bin = fakeBin('exec sleep 30');
    const c = igzipStream(1, bin);

    c.stream.on('error', () => undefined); // as pipeline() would listen
    c.stream.destroy(new Error('target failed'));

    const err = await c.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    // A plain error: the failure that tore the stream down is the one to report.
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(AppError);
    expect((err as Error).message).toMatch(/stopped because the stream it was part of failed/);
  });

  it('refuses igzip when it is not installed, naming the fix; auto falls back to zlib', async () => {
    const missing = join(tmpdir(), 'no-such-igzip');

    await expect(compressorFor('igzip', 1, missing)).rejects.toThrow(/apt-get install isal.*auto or zlib/);
    expect((await compressorFor('auto', 1, missing))().tool).toBe('zlib -1');
  });

  it('maps levels 1–9 onto igzip 1–3', () => {
    expect([1, 2, 5, 6, 9].map(igzipLevel)).toEqual([1, 2, 2, 3, 3]);
  });
});
