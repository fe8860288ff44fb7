import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import {
  PartUploader,
  type PartUploaderOptions,
  StoredBytesMismatch,
} from '../../../../src/adapters/s3/part-uploader.js';

const MiB = 1024 * 1024;

const md5 = (b: Buffer) => createHash('md5').update(b).digest();

interface FakeOptions {
  failPart?: number;
  delayMs?: number;
  /** Flips a byte of this part before storing it (a store that ignores Content-MD5). */
  corruptPart?: number;
  /** How the store names an object's ETag: S3's multipart form, or the MD5 of the whole. */
  objectEtag?: 'multipart' | 'whole-md5' | 'opaque';
  /** Reports SSE-KMS (ETags are then not MD5s). */
  kms?: boolean;
  /** Reports a different size than stored. */
  headSizeDelta?: number;
}

/**
 * An S3 client that keeps what it is sent (copies: the uploader reuses its buffers) and answers
 * as S3 does: a part's ETag is its MD5, the object's is the MD5 of the parts' MD5s with `-<n>`.
 */
function fakeS3(opts: FakeOptions = {}) {
  const calls: string[] = [];
  const parts = new Map<number, Buffer>();
  const contentMd5 = new Map<number, string>();
  const buffers = new Set<ArrayBufferLike>();
  let inFlight = 0;
  let maxInFlight = 0;
  let put: Buffer | undefined;
  let putMd5: string | undefined;
  let completed: { PartNumber: number; ETag: string }[] | undefined;
  const sse = opts.kms ? { ServerSideEncryption: 'aws:kms' } : {};
  const stored = (): Buffer =>
    put ?? Buffer.concat([...parts.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]));
  const objectEtag = (): string => {
    if (put) return md5(put).toString('hex');
    const all = [...parts.entries()].sort((a, b) => a[0] - b[0]).map((e) => md5(e[1]));
    if (opts.objectEtag === 'whole-md5') return md5(stored()).toString('hex');
    if (opts.objectEtag === 'opaque') return 'object-1';
    return `${md5(Buffer.concat(all)).toString('hex')}-${all.length}`;
  };
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
          if (n === opts.corruptPart) copy[7] = (copy[7] as number) ^ 1;
          parts.set(n, copy);
          contentMd5.set(n, input.ContentMD5 as string);
          return { ETag: opts.kms ? `"kms-${n}"` : `"${md5(copy).toString('hex')}"`, ...sse };
        }
        case 'CompleteMultipartUpload':
          completed = (input.MultipartUpload as { Parts: { PartNumber: number; ETag: string }[] }).Parts;
          return {};
        case 'PutObject':
          put = Buffer.from(input.Body as Buffer);
          putMd5 = input.ContentMD5 as string;
          return {};
        case 'HeadObject':
          return {
            ContentLength: stored().length + (opts.headSizeDelta ?? 0),
            ETag: `"${opts.kms ? 'kms-object' : objectEtag()}"`,
            ...sse,
          };
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
    contentMd5,
    buffers,
    get maxInFlight() {
      return maxInFlight;
    },
    get put() {
      return put;
    },
    get putMd5() {
      return putMd5;
    },
    get completed() {
      return completed;
    },
  };
}

function uploader(s3: ReturnType<typeof fakeS3>, options: Partial<PartUploaderOptions> = {}) {
  return new PartUploader({
    client: s3.client,
    bucket: 'b',
    key: 'k/set/db.sql.gz',
    contentType: 'application/gzip',
    partSize: 5 * MiB,
    queueSize: 2,
    compareEtags: true,
    wrap: (err) => new Error(`s3: upload of k/set/db.sql.gz failed: ${(err as Error).message}`),
    ...options,
  });
}

/** What a promise rejected with, or undefined when it resolved. */
const errorOf = (p: Promise<unknown>): Promise<Error | undefined> =>
  p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );

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
    expect(s3.completed).toEqual(
      [1, 2, 3].map((n) => ({ PartNumber: n, ETag: `"${md5(s3.parts.get(n) as Buffer).toString('hex')}"` })),
    );
    expect(s3.calls[0]).toBe('CreateMultipartUpload');
    expect(s3.calls.slice(-2)).toEqual(['CompleteMultipartUpload', 'HeadObject']);
  });

  it('keeps memory bounded: at most queueSize parts in flight and queueSize + 1 buffers, reused', async () => {
    const s3 = fakeS3({ delayMs: 5 });
    const data = randomBytes(31 * MiB);
    const up = uploader(s3, { partSize: 5 * MiB, queueSize: 2 });

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
      expect(s3.calls, `${size} bytes`).toEqual(['PutObject', 'HeadObject']);
      expect(s3.put?.equals(data)).toBe(true);
      expect(s3.putMd5).toBe(md5(data).toString('base64'));
      expect(await up.done).toEqual({ bytes: size, parts: 1, checked: 'Content-MD5, ETag, size' });
    }
  });

  it('sends a body of exactly one part size as a one-part multipart upload', async () => {
    const s3 = fakeS3();
    const data = randomBytes(5 * MiB);
    await pipeline(chunked(data), uploader(s3));
    expect(s3.calls).toEqual([
      'CreateMultipartUpload',
      'UploadPart',
      'CompleteMultipartUpload',
      'HeadObject',
    ]);
    expect(s3.parts.get(1)?.equals(data)).toBe(true);
  });

  it('fails the stream with the wrapped cause when a part fails, and removes the stored parts', async () => {
    const s3 = fakeS3({ failPart: 2 });
    const up = uploader(s3);

    const err = await errorOf(pipeline(chunked(randomBytes(16 * MiB)), up));

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

  it('sends each part with its Content-MD5 and resolves with what was checked', async () => {
    const s3 = fakeS3();
    const data = randomBytes(12 * MiB + 3);
    const up = uploader(s3);
    await pipeline(chunked(data), up);

    for (const n of [1, 2, 3])
      expect(s3.contentMd5.get(n), `part ${n}`).toBe(md5(s3.parts.get(n) as Buffer).toString('base64'));
    expect(await up.done).toEqual({
      bytes: data.length,
      parts: 3,
      checked: 'Content-MD5 of every part, part ETags, object ETag, size',
    });
  });

  it('fails naming the part when S3 stored other bytes than were sent (its ETag differs)', async () => {
    const s3 = fakeS3({ corruptPart: 2 });
    const up = uploader(s3);

    const err = await errorOf(pipeline(chunked(randomBytes(16 * MiB)), up));

    expect(err?.message).toMatch(
      /^s3: upload of k\/set\/db\.sql\.gz failed: part 2 \(5242880 bytes\) was stored with ETag [0-9a-f]{32}, but the MD5 of the bytes sent is [0-9a-f]{32} \(if this store's ETags are not MD5s of the content, set confirm: read-back for this target\)$/,
    );
    await up.cleanup;
    expect(s3.calls).toContain('AbortMultipartUpload');
    expect(s3.calls).not.toContain('CompleteMultipartUpload');
  });

  it('passes a StoredBytesMismatch to wrap, so the target can report a checksum failure', async () => {
    const s3 = fakeS3({ corruptPart: 1 });
    const seen: unknown[] = [];
    const up = uploader(s3, {
      wrap: (e) => {
        seen.push(e);
        return new Error('wrapped');
      },
    });
    await expect(pipeline(chunked(randomBytes(6 * MiB)), up)).rejects.toThrow('wrapped');
    expect(seen[0]).toBeInstanceOf(StoredBytesMismatch);
  });

  it('fails when the stored object has another size or S3-form ETag than what was sent', async () => {
    const data = randomBytes(11 * MiB);
    const sized = fakeS3({ headSizeDelta: -1 });
    const a = uploader(sized);
    await expect(pipeline(chunked(data), a)).rejects.toThrow(
      `S3 holds ${data.length - 1} bytes, but ${data.length} were sent`,
    );

    const small = fakeS3({ headSizeDelta: 5 });
    const b = uploader(small);
    await expect(pipeline(chunked(randomBytes(1000)), b)).rejects.toThrow(
      'S3 holds 1005 bytes, but 1000 were sent',
    );
  });

  it('accepts a store that gives multipart objects the MD5 of the whole, or opaque ETags, on part ETags and size', async () => {
    for (const objectEtag of ['whole-md5', 'opaque'] as const) {
      const s3 = fakeS3({ objectEtag });
      const up = uploader(s3);
      await pipeline(chunked(randomBytes(11 * MiB)), up);
      expect((await up.done).checked, objectEtag).toBe('Content-MD5 of every part, part ETags, size');
    }
  });

  it('does not compare ETags under SSE-KMS, or with compareEtags off; Content-MD5 and size still count', async () => {
    const kms = fakeS3({ kms: true });
    const a = uploader(kms);
    await pipeline(chunked(randomBytes(11 * MiB)), a);
    expect((await a.done).checked).toBe('Content-MD5 of every part, size');

    const off = fakeS3({ corruptPart: 1 }); // a store whose ETags are something else entirely
    const b = uploader(off, { compareEtags: false });
    await pipeline(chunked(randomBytes(11 * MiB)), b);
    expect((await b.done).checked).toBe('Content-MD5 of every part, size');
    expect([...off.contentMd5.values()].every((v) => typeof v === 'string' && v.length === 24)).toBe(true);
  });
});
