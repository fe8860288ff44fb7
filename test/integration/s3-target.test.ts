import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Target } from '../../src/adapters/s3/s3-target.js';
import { createLogger } from '../../src/log.js';
import { type S3Server, startS3, TEST_S3_ENV } from '../fixtures/s3.js';

let s3: S3Server;
let target: S3Target;

beforeAll(async () => {
  Object.assign(process.env, TEST_S3_ENV);
  s3 = await startS3();
  target = new S3Target(
    's3',
    {
      bucket: s3.bucket,
      prefix: 'drbot',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      storageClass: 'STANDARD_IA',
    } as never,
    createLogger({ level: 'silent' }),
  );
});

afterAll(async () => {
  await s3?.stop();
});

const settle = () => new Promise((resolve) => setTimeout(resolve, 500));

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
