// The S3 side of the benchmark: s3rver (as test/fixtures/s3.ts uses it, but in a child
// process) and plain SDK uploads for the naive script.
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

/** s3rver's fixed credentials (it accepts any request signed with them). */
export const S3_ENV = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
};

export async function startS3(directory, bucket) {
  const child = spawn(process.execPath, [join(import.meta.dirname, 's3rver-child.mjs'), directory, bucket], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code} before listening`)));
    lines.once('line', (l) => resolve(JSON.parse(l).port));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    region: S3_ENV.AWS_REGION,
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: S3_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: S3_ENV.AWS_SECRET_ACCESS_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    bucket,
    directory,
    pid: child.pid,
    /** What `aws s3 cp file s3://bucket/key` does: a multipart upload of a local file. */
    async upload(file, key) {
      await new Upload({
        client,
        params: { Bucket: bucket, Key: key, Body: createReadStream(file) },
        partSize: 8 * 1024 * 1024,
        queueSize: 4,
      }).done();
    },
    async removePrefix(prefix) {
      let token;
      do {
        const res = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        const keys = (res.Contents ?? []).map((o) => ({ Key: o.Key }));
        if (keys.length)
          await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    },
    async stop() {
      client.destroy();
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
