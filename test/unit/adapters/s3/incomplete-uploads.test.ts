// Unit tests of S3Target.removeIncomplete against a loopback S3 API (ListMultipartUploads, AbortMultipartUpload).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { STORE_CLOCK_ALLOWANCE_MS } from '../../../../src/adapters/s3/incomplete-uploads.js';
import { S3Target } from '../../../../src/adapters/s3/s3-target.js';
import { createLogger } from '../../../../src/log.js';
import type { IncompleteWrite } from '../../../../src/ports/backup-target.js';

interface Upload {
  key: string;
  uploadId: string;
  initiated: string;
}

const BUCKET = 'backups';

/**
 * The two S3 calls the clean-up makes, as S3 answers them over HTTP: the listing in pages of
 * `pageSize` (markers as S3 uses them), an abort that forgets the upload (404 NoSuchUpload when
 * there is none). `notImplemented` answers the listing as stores without it do (s3rver).
 */
async function fakeS3(uploads: Upload[], options: { pageSize?: number; notImplemented?: boolean } = {}) {
  const open = [...uploads];
  const requests: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(`${req.method} ${url.pathname}?${[...url.searchParams.keys()].sort().join('&')}`);
    const xml = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
    };
    if (
      req.method === 'GET' &&
      url.pathname.replace(/\/$/, '') === `/${BUCKET}` &&
      url.searchParams.has('uploads')
    ) {
      if (options.notImplemented)
        return xml(501, '<Error><Code>NotImplemented</Code><Message>not implemented</Message></Error>');
      const prefix = url.searchParams.get('prefix') ?? '';
      const marker = url.searchParams.get('key-marker') ?? '';
      const idMarker = url.searchParams.get('upload-id-marker') ?? '';
      const matching = open
        .filter((u) => u.key.startsWith(prefix))
        .sort((a, b) => a.key.localeCompare(b.key) || a.uploadId.localeCompare(b.uploadId))
        .filter((u) => !marker || u.key > marker || (u.key === marker && u.uploadId > idMarker));
      const page = matching.slice(0, options.pageSize ?? 1000);
      const truncated = matching.length > page.length;
      const last = page[page.length - 1];
      return xml(
        200,
        `<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${BUCKET}</Bucket><Prefix>${prefix}</Prefix><IsTruncated>${truncated}</IsTruncated>${
          truncated && last
            ? `<NextKeyMarker>${last.key}</NextKeyMarker><NextUploadIdMarker>${last.uploadId}</NextUploadIdMarker>`
            : ''
        }${page
          .map(
            (u) =>
              `<Upload><Key>${u.key}</Key><UploadId>${u.uploadId}</UploadId><Initiated>${u.initiated}</Initiated><StorageClass>STANDARD_IA</StorageClass></Upload>`,
          )
          .join('')}</ListMultipartUploadsResult>`,
      );
    }
    if (req.method === 'DELETE' && url.searchParams.has('uploadId')) {
      const key = decodeURIComponent(url.pathname.slice(`/${BUCKET}/`.length));
      const i = open.findIndex((u) => u.key === key && u.uploadId === url.searchParams.get('uploadId'));
      if (i < 0) return xml(404, '<Error><Code>NoSuchUpload</Code><Message>gone</Message></Error>');
      open.splice(i, 1);
      res.writeHead(204).end();
      return;
    }
    xml(400, '<Error><Code>Unexpected</Code><Message>not part of this fake</Message></Error>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, open, requests };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

function target(endpoint: string, prefix = 'drbot'): S3Target {
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  return new S3Target(
    's3',
    { bucket: BUCKET, prefix, endpoint, forcePathStyle: true, region: 'us-east-1' } as never,
    createLogger({ level: 'silent' }),
  );
}

const KEY_A = '2026/06/01/set-20260601-100000-000a/mysql-prod.sql.gz';
const KEY_B = '2026/06/01/set-20260601-100500-000b/app-data.tar.gz';

describe('S3Target.removeIncomplete', () => {
  it('offers every open upload under its prefix, through all pages, and aborts those picked', async () => {
    const s3 = await fakeS3(
      [
        { key: `drbot/${KEY_A}`, uploadId: 'up-1', initiated: '2026-06-01T10:00:05.000Z' },
        { key: `drbot/${KEY_A}`, uploadId: 'up-2', initiated: '2026-06-01T10:00:06.000Z' },
        { key: `drbot/${KEY_B}`, uploadId: 'up-3', initiated: '2026-06-01T10:05:05.000Z' },
        { key: 'elsewhere/other.bin', uploadId: 'up-4', initiated: '2026-06-01T09:00:00.000Z' },
      ],
      { pageSize: 1 },
    );
    const offered: IncompleteWrite[] = [];

    const result = await target(s3.endpoint).removeIncomplete((w) => {
      offered.push(w);
      return w.key === KEY_A;
    });

    expect(offered.map((w) => w.key)).toEqual([KEY_A, KEY_A, KEY_B]);
    // Begun by the store's clock, which may be behind ours: the latest it can have begun.
    expect(offered[0]?.startedBy).toEqual(
      new Date(Date.parse('2026-06-01T10:00:05.000Z') + STORE_CLOCK_ALLOWANCE_MS),
    );
    expect(result).toEqual({
      removed: [
        `s3: multipart upload of drbot/${KEY_A} begun 2026-06-01T10:00:05.000Z (aborted)`,
        `s3: multipart upload of drbot/${KEY_A} begun 2026-06-01T10:00:06.000Z (aborted)`,
      ],
      problems: [],
    });
    expect(s3.open.map((u) => u.uploadId)).toEqual(['up-3', 'up-4']);
  });

  it('takes an upload that is gone by the time it is aborted as nothing left to do', async () => {
    const s3 = await fakeS3([
      { key: `drbot/${KEY_A}`, uploadId: 'up-1', initiated: '2026-06-01T10:00:05.000Z' },
    ]);

    const result = await target(s3.endpoint).removeIncomplete(() => {
      s3.open.splice(0); // completed or aborted by its own process meanwhile
      return true;
    });

    expect(result).toEqual({ removed: [], problems: [] });
  });

  it('leaves a store without ListMultipartUploads alone, and asks it only once', async () => {
    const s3 = await fakeS3([], { notImplemented: true });
    const t = target(s3.endpoint);

    const first = await t.removeIncomplete(() => true);
    const second = await t.removeIncomplete(() => true);

    expect(first).toEqual({ removed: [], problems: [] });
    expect(second).toEqual({ removed: [], problems: [] });
    expect(s3.requests.filter((r) => r.startsWith('GET'))).toHaveLength(1);
  });

  it('fails with the cause when the store cannot be listed', async () => {
    const t = target('http://127.0.0.1:9');

    await expect(t.removeIncomplete(() => true)).rejects.toThrow(
      /s3 s3:\/\/backups\/drbot: cannot list incomplete multipart uploads/,
    );
  });
});
