// The local-directory backup target: copy 1 of 3-2-1, written durably (fsync before and after rename).
import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { type Readable, Writable } from 'node:stream';
import { ErrorCode, externalError } from '../../errors.js';
import type { BackupTarget, TargetWrite, VersionedRead } from '../../ports/backup-target.js';
import { type IsDebris, removePartialFiles } from './partial-files.js';

/** The part of an open file the target uses; `node:fs/promises` FileHandle fits. */
export interface LocalFile {
  write(data: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
  writev(data: Buffer[]): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The file-system calls the target makes, so a test can record their order. `open(dir, 'r')`
 * opens a directory for fsync.
 */
export interface LocalFs {
  open(path: string, flags: 'w' | 'r'): Promise<LocalFile>;
  rename(from: string, to: string): Promise<void>;
  mkdir(path: string, options: { recursive: true }): Promise<string | undefined>;
  rm(path: string, options: { force: true }): Promise<void>;
  rmdir(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  access(path: string, mode: number): Promise<void>;
}

const nodeFs: LocalFs = {
  open: (path, flags) => fsp.open(path, flags),
  rename: fsp.rename,
  mkdir: fsp.mkdir,
  rm: fsp.rm,
  rmdir: fsp.rmdir,
  readdir: (path) => fsp.readdir(path),
  access: fsp.access,
};

/**
 * Backups in a local directory (copy 1 of 3-2-1). Files are written as `<name>.partial` and
 * renamed only once complete, so an interrupted write never looks like a finished artifact.
 * Each file is fsynced before its rename and its directory after it: without that, a power
 * loss can leave a "complete" set whose files are empty or missing, because the rename (a
 * metadata change) may reach the disk before the data does.
 */
export class LocalDirTarget implements BackupTarget {
  readonly location: string;

  constructor(
    private readonly dir: string,
    readonly name = 'local',
    private readonly fs: LocalFs = nodeFs,
  ) {
    this.location = dir;
  }

  async freeBytes(): Promise<number | undefined> {
    return fsp.statfs(this.dir).then(
      (s) => s.bavail * s.bsize,
      () => undefined,
    );
  }

  async check(): Promise<void> {
    try {
      await this.fs.mkdir(this.dir, { recursive: true });
      await this.fs.access(this.dir, fsp.constants.W_OK);
    } catch (err) {
      throw externalError(
        ErrorCode.LOCAL_WRITE_FAILED,
        `backup directory ${this.dir} is not writable: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async write(key: string): Promise<TargetWrite> {
    const path = this.path(key);
    const partial = `${path}.partial`;
    await this.makeDir(dirname(path));
    const file = await this.fs.open(partial, 'w');
    const stream = fileStream(file);
    const finished = new Promise<void>((resolve, reject) => {
      stream.once('finish', resolve);
      stream.once('error', reject);
    });
    finished.catch(() => undefined);
    return {
      stream,
      commit: async () => {
        try {
          // 'finish' comes after the file's fsync and close (see fileStream).
          await finished;
          await this.fs.rename(partial, path);
          await this.syncDir(dirname(path));
          return undefined; // the engine reads it back
        } catch (err) {
          throw externalError(
            ErrorCode.LOCAL_WRITE_FAILED,
            `cannot write ${path}: ${(err as Error).message}`,
            { cause: err, step: 'upload' },
          );
        }
      },
      abort: async () => {
        stream.destroy();
        await new Promise<void>((resolve) => {
          if (stream.closed) resolve();
          else stream.once('close', () => resolve());
        });
        await this.fs.rm(partial, { force: true });
        await this.fs.rm(path, { force: true });
      },
    };
  }

  async put(key: string, body: string | Buffer): Promise<void> {
    const path = this.path(key);
    const partial = `${path}.partial`;
    try {
      await this.makeDir(dirname(path));
      const file = await this.fs.open(partial, 'w');
      try {
        await writeAll(file, [typeof body === 'string' ? Buffer.from(body) : body]);
        await file.sync();
      } finally {
        await file.close();
      }
      await this.fs.rename(partial, path);
      await this.syncDir(dirname(path));
    } catch (err) {
      throw externalError(ErrorCode.LOCAL_WRITE_FAILED, `cannot write ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async read(key: string): Promise<Readable> {
    const path = this.path(key);
    const stream = createReadStream(path);
    // Surface "missing file" at open time rather than mid-pipeline.
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    }).catch((err) => {
      throw externalError(ErrorCode.LOCAL_WRITE_FAILED, `cannot read ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    });
    return stream;
  }

  /**
   * The version is taken from the open file (fstat of the descriptor that is then read), so a
   * file renamed over the artifact or rewritten in place after the check is never the one read.
   */
  async readVersion(key: string, version?: string): Promise<VersionedRead> {
    const path = this.path(key);
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(path, 'r');
    } catch (err) {
      throw externalError(ErrorCode.LOCAL_WRITE_FAILED, `cannot read ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      const st = await handle.stat({ bigint: true });
      const found = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
      if (version !== undefined && found !== version) {
        throw externalError(
          ErrorCode.ARTIFACT_CHANGED,
          `${path} is no longer the file that was verified (device:inode:size:mtime ${found}, verified ${version})`,
        );
      }
      return { stream: handle.createReadStream(), version: found };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.path(key);
    await this.fs.rm(path, { force: true });
    await this.fs.rm(`${path}.partial`, { force: true });
    // Remove directories the deletion left empty (set, day, month, year), never the root.
    for (let d = dirname(path); d.startsWith(this.dir + sep); d = dirname(d)) {
      const empty = await this.fs.readdir(d).then(
        (e) => e.length === 0,
        () => false,
      );
      if (!empty) break;
      await this.fs.rmdir(d).catch(() => undefined);
    }
  }

  /** Removes the `*.partial` files `isDebris` picks: writes a killed process never finished. */
  removeIncomplete(isDebris: IsDebris) {
    return removePartialFiles(this.dir, this.name, this.fs, isDebris);
  }

  async list(prefix: string): Promise<string[]> {
    const root = this.path(prefix);
    const out: string[] = [];
    const walk = async (d: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await fsp.readdir(d, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else out.push(relative(this.dir, p).split(sep).join('/'));
      }
    };
    await walk(root);
    return out.sort();
  }

  /**
   * Creates a directory and its missing parents, and fsyncs the parent of each one it created:
   * a new directory's entry is data of its parent, lost on power loss like a file's bytes.
   */
  private async makeDir(dir: string): Promise<void> {
    const first = await this.fs.mkdir(dir, { recursive: true });
    if (first === undefined) return;
    const created: string[] = [];
    for (let d = dir; d.length >= first.length; d = dirname(d)) {
      created.push(d);
      if (d === first) break;
    }
    for (const d of created.reverse()) await this.syncDir(dirname(d));
  }

  private async syncDir(dir: string): Promise<void> {
    const handle = await this.fs.open(dir, 'r');
    try {
      await handle.sync();
    } catch (err) {
      // Some file systems cannot fsync a directory at all; there is nothing more to do there.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'ENOTSUP') throw err;
    } finally {
      await handle.close();
    }
  }

  private path(key: string): string {
    if (key.split('/').some((part) => part === '..')) throw new Error(`refusing key with '..': ${key}`);
    return join(this.dir, ...key.split('/'));
  }
}

/**
 * A writable stream into an open file that fsyncs and closes it before 'finish', so a finished
 * stream means durable bytes. Destroyed early (an abort), it only closes the file.
 */
function fileStream(file: LocalFile): Writable {
  let open = true;
  const close = async () => {
    if (!open) return;
    open = false;
    await file.close();
  };
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      writeAll(file, [chunk]).then(() => cb(), cb);
    },
    writev(chunks, cb) {
      writeAll(
        file,
        chunks.map((c) => c.chunk as Buffer),
      ).then(() => cb(), cb);
    },
    final(cb) {
      file
        .sync()
        .then(close)
        .then(() => cb(), cb);
    },
    destroy(err, cb) {
      close().then(
        () => cb(err),
        (closeErr: Error) => cb(err ?? closeErr),
      );
    },
  });
}

/** Writes every byte of `bufs`: write(2) may write less than asked (a full disk, a signal). */
async function writeAll(file: LocalFile, bufs: Buffer[]): Promise<void> {
  const total = bufs.reduce((n, b) => n + b.length, 0);
  let done = bufs.length === 1 ? 0 : (await file.writev(bufs)).bytesWritten;
  for (const buf of bufs) {
    if (done >= buf.length) {
      done -= buf.length;
      continue;
    }
    for (let at = done; at < buf.length; ) {
      const { bytesWritten } = await file.write(buf, at, buf.length - at);
      if (bytesWritten <= 0) throw new Error(`short write: ${total} bytes asked, nothing more written`);
      at += bytesWritten;
    }
    done = 0;
  }
}
