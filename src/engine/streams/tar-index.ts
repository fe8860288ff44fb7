// Indexes a tar stream (path → size and hash) and compares two indexes.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { extract } from 'tar-stream';

/** One entry of a volume archive, as compared between a backup and a restored volume. */
export interface TarEntry {
  type: string;
  size: number;
  sha256: string | undefined;
  linkname: string | undefined;
}

export interface TarIndex {
  entries: Map<string, TarEntry>;
  files: number;
  bytes: number;
}

/** `./a/b` and `a/b/` name the same thing. */
function normalise(name: string): string {
  return name.replace(/^\.\//, '').replace(/^\.$/, '').replace(/\/$/, '');
}

/** Reads a tar stream to the end: every entry with its type, size and (for files) sha256. */
export async function indexTar(stream: Readable): Promise<TarIndex> {
  const entries = new Map<string, TarEntry>();
  let files = 0;
  let bytes = 0;
  const ex = extract();
  stream.pipe(ex);
  stream.once('error', (err) => ex.destroy(err));
  for await (const entry of ex) {
    const h = entry.header;
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of entry as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
    }
    const name = normalise(h.name);
    if (!name) continue; // the root directory itself
    const type = h.type ?? 'file';
    if (type === 'file' || type === 'contiguous-file') {
      files += 1;
      bytes += size;
    }
    entries.set(name, {
      type,
      size,
      sha256: type === 'file' || type === 'contiguous-file' ? hash.digest('hex') : undefined,
      linkname: h.linkname ?? undefined,
    });
  }
  return { entries, files, bytes };
}

/**
 * What differs between what a backup holds and what a volume now holds: entries missing,
 * different, or present only in the volume (`extra`).
 */
export function compareTarIndexes(
  expected: TarIndex,
  actual: TarIndex,
): { missing: string[]; different: string[]; extra: string[] } {
  const missing: string[] = [];
  const different: string[] = [];
  for (const [name, e] of expected.entries) {
    const a = actual.entries.get(name);
    if (!a) missing.push(name);
    else if (a.type !== e.type || a.size !== e.size || a.sha256 !== e.sha256 || a.linkname !== e.linkname)
      different.push(name);
  }
  const extra = [...actual.entries.keys()].filter((n) => !expected.entries.has(n));
  return { missing, different, extra };
}
