import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { PartUploader } from '../../../../src/adapters/s3/part-uploader.js';

const MiB = 1024 * 1024;

/** An S3 client that keeps what it is sent (copies: the uploader reuses its buffers). */
function fakeS3(opts: { failPart?: number; delayMs?: number } = {}) {
  const calls: string[] = [];
  const parts = new Map<number, Buffer>();
  const buffers = new Set<ArrayBufferLike>();
  let inFlight = 0;
  let maxInFlight = 0;
  let put: Buffer | undefined;
  let completed: { PartNumber: number; ETag: string }[] | undefined;
  const client = {
    async send(cmd: { constructor: { name: string }; input: Record<string, unknown> }) {
      const name = cmd.constructor.name.replace(/Command$/, '');
      calls.push(name);
      const input = cmd.input;
      switch (name) {
        case 'CreateMultipartUpload':
          return { UploadId: 'up-1' };
        case 'UploadPart': {
          const body = input.Body as Buffer;
          buffers.add(body.buffer);
          const copy = Buffer.from(body);
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise((r) => setTimeout(r, opts.delayMs ?? 2));
          inFlight--;
          const n = input.PartNumber as number;
          if (n === opts.failPart)
            throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
          parts.set(n, copy);
          return { ETag: `"etag-${n}"` };
        }
        case 'CompleteMultipartUpload':
          completed = (input.MultipartUpload as { Parts: { PartNumber: number; ETag: string }[] }).Parts;
          return {};
        case 'PutObject':
          put = Buffer.from(input.Body as Buffer);
          return {};
        case 'AbortMultipartUpload':
          return {};
        default:
          throw new Error(`unexpected ${name}`);
      }
    },
  } as unknown as S3Client;
  return {
    client,
    calls,
    parts,
    buffers,
    get maxInFlight() {
      return maxInFlight;
    },
    get put() {
      return put;
    },
    get completed() {
      return completed;
    },
  };
}

function uploader(s3: ReturnType<typeof fakeS3>, partSize = 5 * MiB, queueSize = 2) {
  return new PartUploader({
    client: s3.client,
    bucket: 'b',
    key: 'k/set/db.sql.gz',
    contentType: 'application/gzip',
    partSize,
    queueSize,
    wrap: (err) => new Error(`s3: upload of k/set/db.sql.gz failed: ${(err as Error).message}`),
  });
}

/** `data` in uneven chunks, as a compressor hands it over. */
function chunked(data: Buffer): Readable {
  const pieces: Buffer[] = [];
  for (let i = 0, n = 1; i < data.length; i += n, n = (n * 7 + 13) % 300_000)
    pieces.push(data.subarray(i, i + n));
  return Readable.from(pieces);
}

describe('PartUploader', () => {
  it('uploads parts of the configured size in order, and completes with all of them', async () => {
    const s3 = fakeS3();
    const data = randomBytes(12 * MiB + 3);
    const up = uploader(s3);

    await pipeline(chunked(data), up);
    await up.done;

    expect([...s3.parts.keys()].sort()).toEqual([1, 2, 3]);
    expect(s3.parts.get(1)?.length).toBe(5 * MiB);
    expect(s3.parts.get(3)?.length).toBe(2 * MiB + 3);
    expect(Buffer.concat([1, 2, 3].map((n) => s3.parts.get(n) as Buffer)).equals(data)).toBe(true);
    expect(s3.completed).toEqual([1, 2, 3].map((n) => ({ PartNumber: n, ETag: `"etag-${n}"` })));
    expect(s3.calls[0]).toBe('CreateMultipartUpload');
    expect(s3.calls.at(-1)).toBe('CompleteMultipartUpload');
  });

  it('keeps memory bounded: at most queueSize parts in flight and queueSize + 1 buffers, reused', async () => {
    const s3 = fakeS3({ delayMs: 5 });
    const data = randomBytes(31 * MiB);
    const up = uploader(s3, 5 * MiB, 2);

    await pipeline(chunked(data), up);

    expect(s3.parts.size).toBe(7);
    expect(s3.maxInFlight).toBe(2);
    expect(s3.buffers.size).toBeLessThanOrEqual(3);
    expect(
      Buffer.concat([...s3.parts.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1])).equals(data),
    ).toBe(true);
  });

  it('sends a body that fits in one part with one PutObject, empty ones too', async () => {
    for (const size of [0, 1000, 5 * MiB - 1]) {
      const s3 = fakeS3();
      const data = randomBytes(size);
      const up = uploader(s3);
      await pipeline(chunked(data), up);
      await up.done;
      expect(s3.calls, `${size} bytes`).toEqual(['PutObject']);
      expect(s3.put?.equals(data)).toBe(true);
    }
  });

  it('sends a body of exactly one part size as a one-part multipart upload', async () => {
    const s3 = fakeS3();
    const data = randomBytes(5 * MiB);
    await pipeline(chunked(data), uploader(s3));
    expect(s3.calls).toEqual(['CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload']);
    expect(s3.parts.get(1)?.equals(data)).toBe(true);
  });

  it('fails the stream with the wrapped cause when a part fails, and removes the stored parts', async () => {
    const s3 = fakeS3({ failPart: 2 });
    const up = uploader(s3);

    const err = await pipeline(chunked(randomBytes(16 * MiB)), up).then(
      () => undefined,
      (e: unknown) => e as Error,
    );

    expect(err?.message).toBe('s3: upload of k/set/db.sql.gz failed: connect ECONNREFUSED 127.0.0.1:9');
    await expect(up.done).rejects.toThrow(/ECONNREFUSED/);
    await up.cleanup;
    expect(s3.calls).toContain('AbortMultipartUpload');
    expect(s3.calls).not.toContain('CompleteMultipartUpload');
  });

  it('when destroyed half-way, waits for parts in flight and then aborts the multipart upload', async () => {
    const s3 = fakeS3({ delayMs: 20 });
    const up = uploader(s3);
    await new Promise<void>((resolve) => up.write(randomBytes(11 * MiB), () => resolve()));

    up.destroy();
    await up.cleanup;

    expect(s3.calls.filter((c) => c === 'UploadPart').length).toBeGreaterThan(0);
    expect(s3.calls.at(-1)).toBe('AbortMultipartUpload');
    expect(s3.calls).not.toContain('CompleteMultipartUpload');
    await expect(up.done).rejects.toThrow();
  });
});
