// LocalDirTarget reads versions: the very file that was checked, or nothing.
import { mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalDirTarget } from '../../../../src/adapters/local-dir/local-target.js';
import { AppError, ErrorCode } from '../../../../src/errors.js';

const KEY = '2026/01/02/set-1/app.sql.gz';
let root: string;
let file: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'drbot-local-versions-'));
  mkdirSync(join(root, '2026/01/02/set-1'), { recursive: true });
  file = join(root, KEY);
  writeFileSync(file, 'the verified bytes');
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('LocalDirTarget.readVersion', () => {
  it('names the version it read, and reads that version again', async () => {
    const target = new LocalDirTarget(root);
    const first = await target.readVersion(KEY);
    await text(first.stream);

    const again = await target.readVersion(KEY, first.version);

    expect(first.version).toMatch(/^\d+:\d+:18:\d+$/);
    expect(again.version).toBe(first.version);
    expect(await text(again.stream)).toBe('the verified bytes');
  });

  it('refuses a file renamed over the one read, before handing back any byte', async () => {
    const target = new LocalDirTarget(root);
    const { stream, version } = await target.readVersion(KEY);
    await text(stream);
    writeFileSync(`${file}.new`, 'the verified bytes');
    renameSync(`${file}.new`, file);

    const err = await target.readVersion(KEY, version).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe(ErrorCode.ARTIFACT_CHANGED);
    expect((err as AppError).message).toMatch(/app\.sql\.gz is no longer the file that was verified/);
  });

  it('refuses a file rewritten in place with the same size', async () => {
    const target = new LocalDirTarget(root);
    const { stream, version } = await target.readVersion(KEY);
    await text(stream);
    writeFileSync(file, 'THE VERIFIED BYTES');
    utimesSync(file, new Date('2030-01-01'), new Date('2030-01-01'));

    const err = await target.readVersion(KEY, version).catch((e: unknown) => e);

    expect((err as AppError).code).toBe(ErrorCode.ARTIFACT_CHANGED);
  });

  it('reads the file it checked even if another is renamed over it while reading', async () => {
    const target = new LocalDirTarget(root);
    const { stream, version } = await target.readVersion(KEY);
    await text(stream);
    const opened = await target.readVersion(KEY, version);

    writeFileSync(`${file}.new`, 'other bytes entirely');
    renameSync(`${file}.new`, file);

    expect(await text(opened.stream)).toBe('the verified bytes');
  });

  it('names the file when it cannot be read at all', async () => {
    const target = new LocalDirTarget(root);

    const err = await target.readVersion('2026/01/02/set-1/gone.sql.gz').catch((e: unknown) => e);

    expect((err as AppError).message).toMatch(/cannot read .*gone\.sql\.gz: ENOENT/);
  });
});
