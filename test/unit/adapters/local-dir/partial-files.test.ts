// Unit tests of the local target's removal of `*.partial` files that no write will finish.
import { existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalDirTarget } from '../../../../src/adapters/local-dir/local-target.js';
import type { IncompleteWrite } from '../../../../src/ports/backup-target.js';

const SET_A = '2026/06/01/set-20260601-100000-000a';
const SET_B = '2026/06/01/set-20260601-100500-000b';

function backupDir(files: Record<string, { bytes?: number; mtime?: Date }>): string {
  const dir = mkdtempSync(join(tmpdir(), 'drbot-partials-'));
  for (const [key, f] of Object.entries(files)) {
    const path = join(dir, ...key.split('/'));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, Buffer.alloc(f.bytes ?? 10));
    if (f.mtime) utimesSync(path, f.mtime, f.mtime);
  }
  return dir;
}

describe('LocalDirTarget.removeIncomplete', () => {
  it('offers every partial file with its key and when it was last written, and removes those picked', async () => {
    const written = new Date('2026-06-01T10:00:30.000Z');
    const dir = backupDir({
      [`${SET_A}/mysql-prod.sql.gz.partial`]: { bytes: 290, mtime: written },
      [`${SET_A}/app-data.tar.gz.partial`]: { mtime: written },
      [`${SET_B}/app-data.tar.gz.partial`]: { mtime: written },
      [`${SET_B}/mysql-prod.sql.gz`]: {},
      'drbot-state/set-20260601-100000-000a.sqlite.gz.partial': { mtime: written },
    });
    const offered: IncompleteWrite[] = [];

    const result = await new LocalDirTarget(dir).removeIncomplete((w) => {
      offered.push(w);
      return w.key.startsWith(SET_A) || w.key.startsWith('drbot-state/');
    });

    expect(offered.map((w) => w.key)).toEqual([
      `${SET_A}/app-data.tar.gz`,
      `${SET_A}/mysql-prod.sql.gz`,
      `${SET_B}/app-data.tar.gz`,
      'drbot-state/set-20260601-100000-000a.sqlite.gz',
    ]);
    // Written at most then (file times may be whole seconds): never earlier than the mtime.
    expect(offered[0]?.startedBy.getTime()).toBeGreaterThanOrEqual(written.getTime());
    expect(offered[0]?.startedBy.getTime()).toBeLessThanOrEqual(written.getTime() + 2_000);
    expect(result).toEqual({
      removed: [
        `local: ${SET_A}/app-data.tar.gz.partial (10 bytes)`,
        `local: ${SET_A}/mysql-prod.sql.gz.partial (290 bytes)`,
        'local: drbot-state/set-20260601-100000-000a.sqlite.gz.partial (10 bytes)',
      ],
      problems: [],
    });
    // The directories left empty go, up to the backup directory itself, which stays.
    expect(existsSync(join(dir, ...SET_A.split('/')))).toBe(false);
    expect(existsSync(join(dir, 'drbot-state'))).toBe(false);
    expect(existsSync(join(dir, SET_B, 'app-data.tar.gz.partial'))).toBe(true);
    expect(existsSync(dir)).toBe(true);
  });

  it('never touches the finished file beside a partial one', async () => {
    const dir = backupDir({
      [`${SET_A}/manifest.json`]: {},
      [`${SET_A}/manifest.json.partial`]: {},
    });

    await new LocalDirTarget(dir).removeIncomplete(() => true);

    expect(existsSync(join(dir, SET_A, 'manifest.json'))).toBe(true);
    expect(existsSync(join(dir, SET_A, 'manifest.json.partial'))).toBe(false);
  });

  it('finds nothing in a backup directory that does not exist yet', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'drbot-partials-')), 'not-yet');

    const result = await new LocalDirTarget(dir).removeIncomplete(() => true);

    expect(result).toEqual({ removed: [], problems: [] });
  });
});
