import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
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

  it('is taken, gzipped and hashed in a worker thread for a state file, with every committed write', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drbot-image-'));
    const old = openSqliteStore(join(dir, 'old.sqlite'));
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const run = old.createRun({
        kind: 'backup',
        requester: 'cron',
        target: 'all',
        status: 'succeeded',
        at: new Date(),
      });
      old.appendEvent(run.id, { at: new Date(), type: 'info', message: `run ${i}` });
      ids.push(run.id);
    }
    // Ticks of this thread while the snapshot is taken: it does not hold the event loop.
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 0);
    const { body, sha256 } = await old.snapshotCompressed();
    clearInterval(ticker);

    expect(sha256).toBe(createHash('sha256').update(body).digest('hex'));
    const image = gunzipSync(body);
    expect(image[18]).toBe(1);
    writeFileSync(join(dir, 'image.sqlite'), image);
    const fresh = openSqliteStore(join(dir, 'new.sqlite'));
    expect(fresh.importSnapshot(join(dir, 'image.sqlite'), new Date()).runs).toBe(200);
    expect(fresh.events(ids[199] as string).map((e) => e.message)).toEqual(['run 199']);
    expect(ticks).toBeGreaterThan(0);
    old.close();
    fresh.close();
  });

  it('for a state in memory, is taken on this thread with the same result shape', async () => {
    const store = openSqliteStore(':memory:');
    store.createRun({
      kind: 'backup',
      requester: 'cron',
      target: 'all',
      status: 'succeeded',
      at: new Date(),
    });
    const { body, sha256 } = await store.snapshotCompressed();
    expect(sha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect(gunzipSync(body).subarray(0, 15).toString()).toBe('SQLite format 3');
    store.close();
  });
});
