// The local target's `*.partial` files that no write will finish: found, and removed when picked.
import * as fsp from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { IncompleteRemoval, IncompleteWrite } from '../../ports/backup-target.js';

/** What a file being written is called until it is complete (see LocalDirTarget.write). */
export const PARTIAL = '.partial';

/** File times may be whole seconds (two on FAT): a file's mtime is known to about that. */
const FILE_TIME_ALLOWANCE_MS = 2_000;

/** Picks the incomplete writes to remove (see BackupTarget.removeIncomplete). */
export type IsDebris = (write: IncompleteWrite) => boolean;

/** The file-system calls the removal makes (LocalFs fits). */
export interface PartialFs {
  rm(path: string, options: { force: true }): Promise<void>;
  rmdir(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
}

/**
 * Removes the `*.partial` files under `root` that `isDebris` picks (a killed process neither
 * renamed nor removed them), and the directories that leaves empty, never `root`. The finished
 * file beside one, if there is one, is never touched. All are listed before any is judged.
 */
export async function removePartialFiles(
  root: string,
  target: string,
  fs: PartialFs,
  isDebris: IsDebris,
): Promise<IncompleteRemoval> {
  const found: Array<IncompleteWrite & { path: string; size: number }> = [];
  for (const path of await partialFiles(root)) {
    const st = await fsp.stat(path).catch(() => undefined);
    if (!st?.isFile()) continue; // gone meanwhile: its write finished or was aborted
    // The file was created no later than its last change, give or take the file time's grain.
    found.push({
      path,
      key: relative(root, path).split(sep).join('/').slice(0, -PARTIAL.length),
      startedBy: new Date(st.mtimeMs + FILE_TIME_ALLOWANCE_MS),
      size: st.size,
    });
  }
  const out: IncompleteRemoval = { removed: [], problems: [] };
  for (const f of found.filter((w) => isDebris({ key: w.key, startedBy: w.startedBy }))) {
    try {
      await fs.rm(f.path, { force: true });
      await removeEmptyDirs(root, dirname(f.path), fs);
      out.removed.push(`${target}: ${f.key}${PARTIAL} (${f.size} bytes)`);
    } catch (err) {
      out.problems.push(`${target}: ${f.path} was not removed: ${(err as Error).message}`);
    }
  }
  return out;
}

/** Every `*.partial` file below `root` (none when it does not exist). */
async function partialFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await fsp.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && e.name.endsWith(PARTIAL)) out.push(p);
    }
  };
  await walk(root);
  return out.sort();
}

/** Removes `from` and its parents while they are empty, up to (not including) `root`. */
async function removeEmptyDirs(root: string, from: string, fs: PartialFs): Promise<void> {
  for (let d = from; d.startsWith(root + sep); d = dirname(d)) {
    const empty = await fs.readdir(d).then(
      (e) => e.length === 0,
      () => false,
    );
    if (!empty) break;
    await fs.rmdir(d).catch(() => undefined);
  }
}
