import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Target } from '../../src/adapters/s3/s3-target.js';
import { AppError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { MOTO_ENV, startMoto } from '../fixtures/moto.js';
import { startS3, TEST_S3_ENV } from '../fixtures/s3.js';

/** One S3 API the adapter is tested against: s3rver (in-process) and moto (a fuller S3, in Docker). */
interface Server {
  name: 's3rver' | 'moto';
  env: Record<string, string>;
  start(): Promise<{ endpoint: string; bucket: string; stop(): Promise<void> | void }>;
  /** What a confirmed multipart upload names as checked (s3rver's multipart ETag is not S3's form). */
  multipartChecked: string;
}

const SERVERS: Server[] = [
  {
    name: 's3rver',
    env: TEST_S3_ENV,
    start: () => startS3(),
    multipartChecked: 'Content-MD5 of every part, part ETags, size',
  },
  {
    name: 'moto',
    env: MOTO_ENV,
    async start() {
      const moto = await startMoto();
      return { endpoint: moto.endpoint, bucket: await moto.bucket('drbot-test'), stop: moto.stop };
    },
    multipartChecked: 'Content-MD5 of every part, part ETags, object ETag, size',
  },
];

const settle = () => new Promise((resolve) => setTimeout(resolve, 500));

const MiB = 1024 * 1024;

describe.each(SERVERS)('S3Target on $name', (server) => {
  let s3: { endpoint: string; bucket: string; stop(): Promise<void> | void };
  let target: S3Target;

  beforeAll(async () => {
    Object.assign(process.env, server.env);
    s3 = await server.start();
    target = targetWith('checksum', 's3');
  });

  afterAll(async () => {
    await s3?.stop();
  });

  function targetWith(confirm: 'checksum' | 'read-back', name = `s3-${confirm}`): S3Target {
    return new S3Target(
      name,
      {
        bucket: s3.bucket,
        prefix: 'drbot',
        endpoint: s3.endpoint,
        forcePathStyle: true,
        region: 'us-east-1',
        storageClass: 'STANDARD_IA',
        confirm,
      } as never,
      createLogger({ level: 'silent' }),
    );
  }

  async function readAll(t: S3Target, key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of await t.read(key)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  describe('S3Target confirms what it stored', () => {
    it('with confirm: checksum, a multipart and a one-part upload resolve with what S3 showed', async () => {
      const t = targetWith('checksum');
      const big = randomBytes(11 * MiB + 5);
      const w = await t.write('confirm/big.bin');
      w.stream.end(big);
      // s3rver gives a multipart object the MD5 of its whole content: parts and size are checked.
      expect(await w.commit()).toEqual({
        bytes: big.length,
        parts: 2, // 8 MiB parts with no earlier size to go by
        checked: server.multipartChecked,
      });
      expect((await readAll(t, 'confirm/big.bin')).equals(big)).toBe(true);

      const small = randomBytes(1000);
      const s = await t.write('confirm/small.bin');
      s.stream.end(small);
      expect(await s.commit()).toEqual({ bytes: 1000, parts: 1, checked: 'Content-MD5, ETag, size' });
    });

    it('with confirm: read-back, leaves the confirmation to the engine (no receipt)', async () => {
      const t = targetWith('read-back');
      const w = await t.write('confirm/read-back.bin');
      w.stream.end(randomBytes(6 * MiB));
      expect(await w.commit()).toBeUndefined();
    });

    it('a part changed on the way fails the upload as a checksum mismatch and leaves nothing', async () => {
      // A bad proxy flips a bit of part 2 after it was signed; s3rver, unlike S3, does not check
      // Content-MD5, so only the ETag it answers with shows the damage.
      const t = targetWith('checksum');
      const client = (t as unknown as { client: S3Client }).client;
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const input = (args as { input: { PartNumber?: number } }).input;
          const request = (args as { request: { body: Buffer } }).request;
          if (context.commandName === 'UploadPartCommand' && input.PartNumber === 2) {
            const copy = Buffer.from(request.body);
            copy[100] = (copy[100] as number) ^ 0x10;
            request.body = copy;
          }
          return next(args);
        },
        { step: 'finalizeRequest', name: 'flipBit' },
      );
      const key = 'corrupted/object.bin';
      const w = await t.write(key);
      w.stream.on('error', () => undefined);
      w.stream.end(randomBytes(16 * MiB));

      const err = (await w.commit().catch((e: unknown) => e)) as AppError;

      expect(err).toBeInstanceOf(AppError);
      expect(err.code).toBe('CHECKSUM_MISMATCH');
      expect(err.message).toMatch(
        /^s3-checksum s3:\/\/drbot-test[-0-9]*\/drbot: drbot\/corrupted\/object\.bin was not stored as sent: part 2 \(8388608 bytes\) was stored with ETag [0-9a-f]{32}, but the MD5 of the bytes sent is [0-9a-f]{32}/,
      );
      await w.abort(err);
      await settle();
      expect(await t.list('corrupted/')).toEqual([]);
    });
  });

  describe('S3Target abort', () => {
    it('leaves no object when aborted while the upload is being completed', async () => {
      // Hold CompleteMultipartUpload for a moment, and abort exactly then: the request is already
      // on its way, as when a dump tool's non-zero exit is seen just after its last byte.
      let completing!: () => void;
      const completeSent = new Promise<void>((resolve) => {
        completing = resolve;
      });
      const client = (target as unknown as { client: S3Client }).client;
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'CompleteMultipartUploadCommand') {
            completing();
            await settle();
          }
          return next(args);
        },
        { step: 'finalizeRequest', name: 'holdComplete' },
      );
      try {
        const key = 'aborted/while-completing.bin';
        const write = await target.write(key);
        write.stream.end(randomBytes(12 * 1024 * 1024)); // two parts; the upload then completes on its own

        await completeSent;
        await write.abort(new Error('the dump tool exited 2'));
        await settle(); // anything still on the wire lands now

        expect(await target.list('aborted/')).toEqual([]);
      } finally {
        client.middlewareStack.remove('holdComplete');
      }
    });

    it('leaves no object and no parts when aborted half-way', async () => {
      const key = 'aborted-half-way/object.bin';
      const write = await target.write(key);
      write.stream.write(randomBytes(12 * 1024 * 1024));

      await write.abort(new Error('the dump tool exited 2'));
      await settle();

      expect(await target.list('aborted-half-way/')).toEqual([]);
    });
  });

  describe('S3Target.readVersion', () => {
    async function text(stream: NodeJS.ReadableStream): Promise<string> {
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString();
    }

    it('names the version by its ETag and reads that version again', async () => {
      await target.put('versions/same.sql.gz', 'the verified bytes');
      const first = await target.readVersion('versions/same.sql.gz');
      await text(first.stream);

      const again = await target.readVersion('versions/same.sql.gz', first.version);

      expect(first.version).toMatch(/^"[0-9a-f]{32}"$/);
      expect(await text(again.stream)).toBe('the verified bytes');
    });

    it('refuses an object replaced since, before handing back any byte', async () => {
      await target.put('versions/replaced.sql.gz', 'the verified bytes');
      const { stream, version } = await target.readVersion('versions/replaced.sql.gz');
      await text(stream);
      await target.put('versions/replaced.sql.gz', 'other bytes');

      const err = await target.readVersion('versions/replaced.sql.gz', version).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('ARTIFACT_CHANGED');
      expect((err as AppError).message).toMatch(
        /s3 s3:\/\/drbot-test[-0-9]*\/drbot: drbot\/versions\/replaced\.sql\.gz is no longer the object that was verified \(ETag "[0-9a-f]{32}", verified "[0-9a-f]{32}"\)/,
      );
    });
  });
});
