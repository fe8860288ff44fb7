import { createReadStream, createWriteStream } from 'node:fs';
import { access, constants, mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { ErrorCode, externalError } from '../../errors.js';
import type { BackupTarget, TargetWrite } from '../../ports/backup-target.js';

/**
 * Backups in a local directory (copy 1 of 3-2-1). Files are written as `<name>.partial` and
 * renamed only once complete, so an interrupted write never looks like a finished artifact.
 */
export class LocalDirTarget implements BackupTarget {
  readonly location: string;

  constructor(
    private readonly dir: string,
    readonly name = 'local',
  ) {
    this.location = dir;
  }

  async check(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
      await access(this.dir, constants.W_OK);
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
    await mkdir(dirname(path), { recursive: true });
    const stream = createWriteStream(partial, { flags: 'w' });
    const closed = new Promise<void>((resolve, reject) => {
      stream.once('close', resolve);
      stream.once('error', reject);
    });
    closed.catch(() => undefined);
    return {
      stream,
      commit: async () => {
        try {
          await closed;
          await rename(partial, path);
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
        await closed.catch(() => undefined);
        await rm(partial, { force: true });
        await rm(path, { force: true });
      },
    };
  }

  async put(key: string, body: string | Buffer): Promise<void> {
    const path = this.path(key);
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(`${path}.partial`, body);
      await rename(`${path}.partial`, path);
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

  async delete(key: string): Promise<void> {
    const path = this.path(key);
    await rm(path, { force: true });
    await rm(`${path}.partial`, { force: true });
    // Remove directories the deletion left empty (set, day, month, year), never the root.
    for (let d = dirname(path); d.startsWith(this.dir + sep); d = dirname(d)) {
      const empty = await readdir(d).then(
        (e) => e.length === 0,
        () => false,
      );
      if (!empty) break;
      await rmdir(d).catch(() => undefined);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const root = this.path(prefix);
    const out: string[] = [];
    const walk = async (d: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(d, { withFileTypes: true });
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

  private path(key: string): string {
    if (key.split('/').some((part) => part === '..')) throw new Error(`refusing key with '..': ${key}`);
    return join(this.dir, ...key.split('/'));
  }
}
