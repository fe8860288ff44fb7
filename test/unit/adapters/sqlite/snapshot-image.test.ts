import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';

describe('SqliteStore.snapshot', () => {
  it('is a self-contained database image that an empty state on a new host imports', () => {
    const dir = mkdtempSync(join(tmpdir(), 'drbot-image-'));
    const old = openSqliteStore(join(dir, 'old.sqlite'));
    const run = old.createRun({
      kind: 'backup',
      requester: 'cron',
      target: 'all',
      status: 'succeeded',
      at: new Date(),
    });
    old.appendEvent(run.id, { at: new Date(), type: 'info', message: 'set written' });

    const image = old.snapshot();
    writeFileSync(join(dir, 'image.sqlite'), image);
    const fresh = openSqliteStore(join(dir, 'new.sqlite'));
    const counts = fresh.importSnapshot(join(dir, 'image.sqlite'), new Date());

    expect(image[18]).toBe(1); // a rollback-journal file: no -wal file is needed beside it
    expect(counts.runs).toBe(1);
    expect(fresh.getRun(run.id)?.status).toBe('succeeded');
    expect(fresh.events(run.id).map((e) => e.message)).toContain('set written');
    old.close();
    fresh.close();
  });
});
