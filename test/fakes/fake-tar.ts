// Tar archives of fake volumes, laid out as Docker's archive API writes them (`./`, `./dir/`, `./dir/file`).
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { extract, pack } from 'tar-stream';

/** What a fake volume holds at one path. */
export type VolumeEntry =
  | { type: 'file'; data: Buffer; mode: number }
  | { type: 'directory'; mode: number }
  | { type: 'symlink'; linkname: string };

/** A fixed time for every entry: Docker's archives carry mtimes, and nothing compares them. */
const MTIME = new Date('2026-01-01T00:00:00Z');

/** Every directory an entry needs, besides those recorded themselves. */
function withParents(entries: Map<string, VolumeEntry>): Map<string, VolumeEntry> {
  const all = new Map(entries);
  for (const path of entries.keys()) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!all.has(dir)) all.set(dir, { type: 'directory', mode: 0o755 });
    }
  }
  return all;
}

/** The volume as one tar archive: the root `./` first, then every entry in path order. */
export async function packVolume(entries: Map<string, VolumeEntry>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    p.once('end', resolve);
    p.once('error', reject);
  });
  p.entry({ name: './', type: 'directory', mode: 0o755, mtime: MTIME });
  const all = withParents(entries);
  for (const path of [...all.keys()].sort()) {
    const e = all.get(path) as VolumeEntry;
    if (e.type === 'file') p.entry({ name: `./${path}`, mode: e.mode, mtime: MTIME }, e.data);
    else if (e.type === 'directory')
      p.entry({ name: `./${path}/`, type: 'directory', mode: e.mode, mtime: MTIME });
    else p.entry({ name: `./${path}`, type: 'symlink', linkname: e.linkname, mtime: MTIME });
  }
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/**
 * Reads a tar stream to its end, handing each entry (path without `./`) to `put` as it
 * arrives, the way an extraction writes files one after another. Rejects on a broken archive
 * or an entry type the fake does not keep.
 */
export async function unpackInto(
  stream: Readable,
  put: (path: string, entry: VolumeEntry) => void,
): Promise<void> {
  const ex = extract();
  stream.once('error', (err) => ex.destroy(err));
  stream.pipe(ex);
  for await (const entry of ex) {
    const h = entry.header;
    const chunks: Buffer[] = [];
    for await (const c of entry as AsyncIterable<Buffer>) chunks.push(c);
    const path = h.name.replace(/^\.\//, '').replace(/^\.$/, '').replace(/\/$/, '');
    if (!path) continue;
    if (path.split('/').includes('..') || path.startsWith('/'))
      throw new Error(`fake runtime: archive entry ${h.name} points outside the volume`);
    const type = h.type ?? 'file';
    if (type === 'file') put(path, { type: 'file', data: Buffer.concat(chunks), mode: h.mode ?? 0o644 });
    else if (type === 'directory') put(path, { type: 'directory', mode: h.mode ?? 0o755 });
    else if (type === 'symlink') put(path, { type: 'symlink', linkname: h.linkname ?? '' });
    else throw new Error(`fake runtime: archive entry ${h.name} is a ${type}, which the fake does not keep`);
  }
}

/** The files of a tar archive (gzip or not) as path → UTF-8 text, for assertions. */
export async function tarFiles(archive: Buffer): Promise<Record<string, string>> {
  const raw = archive[0] === 0x1f && archive[1] === 0x8b ? gunzipSync(archive) : archive;
  const files: Record<string, string> = {};
  await unpackInto(Readable.from([raw]), (path, e) => {
    if (e.type === 'file') files[path] = e.data.toString('utf8');
  });
  return files;
}
