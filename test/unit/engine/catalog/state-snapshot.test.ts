// The state snapshot uploaded with a set: in memory for small states, streamed from a copy for large ones.

import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import { uploadStateSnapshot } from '../../../../src/engine/catalog/sidecars.js';
import type { EngineDeps } from '../../../../src/engine/deps.js';
import { FakeTarget } from '../../../fakes/fake-target.js';
import { reportDeps } from '../../../fixtures/report-deps.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function bytesOf(target: FakeTarget, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await target.read(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('uploadStateSnapshot', () => {
  it.each([
    ['in memory', Number.MAX_SAFE_INTEGER],
    ['streamed from a copy beside the state', 0],
  ])(
    '%s: a gzipped, self-contained state that a new host imports, with its sha256',
    async (_how, inMemoryMax) => {
      dir = mkdtempSync(join(tmpdir(), 'drbot-snap-'));
      const store = openSqliteStore(join(dir, 'state.sqlite'));
      for (let i = 0; i < 50; i++)
        store.createRun({
          kind: 'backup',
          requester: 'cron',
          target: 'all',
          status: 'succeeded',
          at: new Date(),
        });
      const { deps } = reportDeps({}, new Date());
      const local = new FakeTarget('local');
      const s3 = new FakeTarget('s3');

      const ref = await uploadStateSnapshot(
        { ...deps, store } as EngineDeps,
        'set-a',
        [local, s3],
        inMemoryMax,
      );

      for (const t of [local, s3]) {
        const body = await bytesOf(t, ref.key);
        expect(createHash('sha256').update(body).digest('hex')).toBe(ref.sha256);
        expect(body.length).toBe(ref.size);
        writeFileSync(join(dir, `${t.name}.sqlite`), gunzipSync(body));
        const fresh = openSqliteStore(join(dir, `fresh-${t.name}.sqlite`));
        expect(fresh.importSnapshot(join(dir, `${t.name}.sqlite`), new Date()).runs).toBe(50);
        fresh.close();
      }
      // The copy a large state streams from is gone afterwards.
      expect(readdirSync(dir).filter((f) => f.includes('.upload-'))).toEqual([]);
      store.close();
    },
  );

  it('uploads a state too large for memory at most once an hour; sets in between refer to the newest', async () => {
    dir = mkdtempSync(join(tmpdir(), 'drbot-snap-'));
    const store = openSqliteStore(join(dir, 'state.sqlite'));
    store.createRun({
      kind: 'backup',
      requester: 'cron',
      target: 'all',
      status: 'succeeded',
      at: new Date(),
    });
    let now = new Date('2026-11-29T10:00:00Z');
    const { deps } = reportDeps({}, now);
    const clocked = { ...deps, store, clock: { ...deps.clock, now: () => now } } as EngineDeps;
    const s3 = new FakeTarget('s3');

    const first = await uploadStateSnapshot(clocked, 'set-a', [s3], 0);
    now = new Date('2026-11-29T10:40:00Z');
    const second = await uploadStateSnapshot(clocked, 'set-b', [s3], 0);
    now = new Date('2026-11-29T11:05:00Z');
    const third = await uploadStateSnapshot(clocked, 'set-c', [s3], 0);

    expect(second).toEqual(first);
    expect(third.key).toBe('drbot-state/set-c.sqlite.gz');
    expect((await s3.list('drbot-state/')).sort()).toEqual([first.key, third.key]);
    store.close();
  });
});
