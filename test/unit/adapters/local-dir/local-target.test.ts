// LocalDirTarget writes durably: each file is fsynced before its rename, its directory after.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalDirTarget, type LocalFs } from '../../../../src/adapters/local-dir/local-target.js';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'drbot-local-'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** The real file system, with every call that matters for durability recorded in order. */
function recordingFs(): { fs: LocalFs; ops: string[] } {
  const ops: string[] = [];
  const rel = (p: string) => relative(root, p) || '.';
  const fs: LocalFs = {
    open: async (path, flags) => {
      const handle = await fsp.open(path, flags);
      ops.push(`open ${rel(path)}`);
      return {
        write: async (data, offset, length) => {
          ops.push(`write ${rel(path)}`);
          return handle.write(data, offset, length);
        },
        writev: async (data) => {
          ops.push(`write ${rel(path)}`);
          return handle.writev(data);
        },
        sync: async () => {
          await handle.sync();
          ops.push(`sync ${rel(path)}`);
        },
        close: async () => {
          await handle.close();
          ops.push(`close ${rel(path)}`);
        },
      };
    },
    rename: async (from, to) => {
      await fsp.rename(from, to);
      ops.push(`rename ${rel(from)} -> ${rel(to)}`);
    },
    mkdir: (path, options) => fsp.mkdir(path, options),
    rm: (path, options) => fsp.rm(path, options),
    rmdir: (path) => fsp.rmdir(path),
    readdir: (path) => fsp.readdir(path),
    access: (path, mode) => fsp.access(path, mode),
  };
  return { fs, ops };
}

/** Indexes of the first op matching each pattern, so the test can compare their order. */
function at(ops: string[], op: string): number {
  const i = ops.indexOf(op);
  if (i < 0) throw new Error(`no '${op}' in:\n${ops.join('\n')}`);
  return i;
}

describe('LocalDirTarget: durable writes', () => {
  it('streams an artifact, fsyncs it, renames it into place, then fsyncs its directory', async () => {
    const { fs, ops } = recordingFs();
    const target = new LocalDirTarget(root, 'local', fs);
    const key = '2024/05/01/set-1/db.sql.gz';

    const write = await target.write(key);
    await pipeline(Readable.from([Buffer.from('first '), Buffer.from('second')]), write.stream);
    await write.commit();

    const file = '2024/05/01/set-1/db.sql.gz';
    const partial = `${file}.partial`;
    expect(readFileSync(join(root, file), 'utf8')).toBe('first second');
    expect(at(ops, `open ${partial}`)).toBeLessThan(at(ops, `write ${partial}`));
    expect(at(ops, `write ${partial}`)).toBeLessThan(at(ops, `sync ${partial}`));
    expect(at(ops, `sync ${partial}`)).toBeLessThan(at(ops, `close ${partial}`));
    expect(at(ops, `close ${partial}`)).toBeLessThan(at(ops, `rename ${partial} -> ${file}`));
    expect(at(ops, `rename ${partial} -> ${file}`)).toBeLessThan(ops.lastIndexOf('sync 2024/05/01/set-1'));
    expect(ops.at(-1)).toBe('close 2024/05/01/set-1');
  });

  it('fsyncs the parent of every directory it creates for a new set', async () => {
    const { fs, ops } = recordingFs();
    const target = new LocalDirTarget(root, 'local', fs);

    const write = await target.write('2024/05/01/set-1/db.sql.gz');
    await pipeline(Readable.from([Buffer.from('x')]), write.stream);
    await write.commit();

    const dirSyncs = ops.filter((o) => /^sync [^.]*$|^sync \.$/.test(o));
    expect(dirSyncs).toEqual([
      'sync .',
      'sync 2024',
      'sync 2024/05',
      'sync 2024/05/01',
      'sync 2024/05/01/set-1',
    ]);
  });

  it('puts SHA256SUMS and manifest.json the same way: write, fsync, close, rename, fsync the directory', async () => {
    const { fs, ops } = recordingFs();
    const target = new LocalDirTarget(root, 'local', fs);
    await fsp.mkdir(join(root, '2024/05/01/set-1'), { recursive: true });

    await target.put('2024/05/01/set-1/SHA256SUMS', 'abc  db.sql.gz\n');
    await target.put('2024/05/01/set-1/manifest.json', Buffer.from('{}'));

    for (const name of ['SHA256SUMS', 'manifest.json']) {
      const file = `2024/05/01/set-1/${name}`;
      const partial = `${file}.partial`;
      const i = at(ops, `open ${partial}`);
      expect(ops.slice(i, i + 8)).toEqual([
        `open ${partial}`,
        `write ${partial}`,
        `sync ${partial}`,
        `close ${partial}`,
        `rename ${partial} -> ${file}`,
        'open 2024/05/01/set-1',
        'sync 2024/05/01/set-1',
        'close 2024/05/01/set-1',
      ]);
    }
    expect(readFileSync(join(root, '2024/05/01/set-1/SHA256SUMS'), 'utf8')).toBe('abc  db.sql.gz\n');
  });

  it('does not rename a file whose fsync failed, and reports the write as failed', async () => {
    const { fs } = recordingFs();
    const failing: LocalFs = {
      ...fs,
      open: async (path, flags) => {
        const f = await fs.open(path, flags);
        return path.endsWith('.partial')
          ? { ...f, sync: () => Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })) }
          : f;
      },
    };
    const target = new LocalDirTarget(root, 'local', failing);

    const write = await target.write('2024/05/01/set-1/db.sql.gz');
    const flow = pipeline(Readable.from([Buffer.from('x')]), write.stream);

    await expect(flow).rejects.toThrow(/EIO/);
    await expect(write.commit()).rejects.toThrow(/cannot write .*EIO/);
    await write.abort(new Error('failed'));
    expect(await target.list('2024')).toEqual([]);
  });

  it('writes every byte even when the file system writes less than asked at a time', async () => {
    const { fs } = recordingFs();
    const short: LocalFs = {
      ...fs,
      open: async (path, flags) => {
        const f = await fs.open(path, flags);
        return {
          ...f,
          // One byte per call, like a write(2) interrupted again and again.
          write: (data, offset) => f.write(data, offset, 1),
          writev: (data) => f.write(data[0] as Buffer, 0, Math.min(1, (data[0] as Buffer).length)),
        };
      },
    };
    const target = new LocalDirTarget(root, 'local', short);

    const write = await target.write('2024/05/01/set-1/v.tar.gz');
    await pipeline(Readable.from([Buffer.from('abc'), Buffer.from('defg')]), write.stream);
    await write.commit();
    await target.put('2024/05/01/set-1/SHA256SUMS', 'sums');

    expect(readFileSync(join(root, '2024/05/01/set-1/v.tar.gz'), 'utf8')).toBe('abcdefg');
    expect(readFileSync(join(root, '2024/05/01/set-1/SHA256SUMS'), 'utf8')).toBe('sums');
  });
});
