import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import { Engine } from '../../../../src/engine/engine.js';
import { createLogger } from '../../../../src/log.js';
import type { StateStore } from '../../../../src/ports/state-store.js';
import { engineOnFakes, type FakeWorld } from '../../../fakes/engine-on-fakes.js';

/**
 * The old host backed up to `local` and `s3`, then was lost: a new engine on an empty state,
 * with the same targets, must find the sets, the run history and which copies survive.
 */
let old: FakeWorld;
let fresh: StateStore | undefined;

function newHost(world: FakeWorld): Engine {
  fresh = openSqliteStore(':memory:');
  return new Engine({
    config: world.config,
    runtime: world.runtime,
    targets: [world.local, world.s3],
    store: fresh,
    clock: world.clock,
    log: createLogger({ level: 'silent' }),
  });
}

afterEach(() => {
  old?.close();
  fresh?.close();
});

describe('catalog rebuild on a new host', () => {
  it('loads the newest state snapshot, then marks the copies the lost local disk held as missing', async () => {
    old = engineOnFakes();
    const first = await old.engine.backup({ target: 'all', requester: 'cron' });
    old.clock.advance(60_000);
    const second = await old.engine.backup({ target: 'all', requester: 'cron' });
    old.local.objects.clear();
    const engine = newHost(old);

    const report = await engine.ensureCatalog();

    expect(report?.snapshot?.setId).toBe(second.setId);
    expect(report?.unreachable).toEqual([]);
    expect(engine.runs(10).map((r) => [r.id, r.status])).toEqual([
      [second.run.id, 'succeeded'],
      [first.run.id, 'succeeded'],
    ]);
    const set = engine.getSet(second.setId);
    expect(set?.status).toBe('complete');
    for (const a of set?.artifacts ?? [])
      expect(Object.fromEntries(a.locations.map((l) => [l.target, l.status]))).toEqual({
        local: 'missing',
        s3: 'confirmed',
      });
    expect(await engine.ensureCatalog()).toBeUndefined();
  });

  it('adds sets from their manifests when no snapshot can be read, and skips one whose SHA256SUMS disagree', async () => {
    old = engineOnFakes();
    const good = await old.engine.backup({ target: 'all', requester: 'cron' });
    old.clock.advance(60_000);
    const bad = await old.engine.backup({ target: 'all', requester: 'cron' });
    for (const t of [old.local, old.s3]) {
      for (const k of [...t.objects.keys()]) if (k.startsWith('drbot-state/')) t.objects.delete(k);
      const sums = [...t.objects.keys()].find((k) => k.includes(bad.setId) && k.endsWith('SHA256SUMS'));
      t.objects.set(sums as string, Buffer.from(`${'0'.repeat(64)}  db.sql.gz\n`));
    }
    const engine = newHost(old);

    const report = await engine.rebuildCatalog();

    expect(report.snapshot).toBeUndefined();
    expect(report.added).toEqual([good.setId]);
    expect(report.skipped.join('\n')).toMatch(new RegExp(`${bad.setId}: no usable manifest.json .*disagree`));
    expect(
      engine
        .getSet(good.setId)
        ?.artifacts.map((a) => a.asset)
        .sort(),
    ).toEqual(good.artifacts.map((a) => a.asset).sort());
    expect(engine.findRun(good.run.id)?.requester).toBe('catalog-rebuild');
  });

  it('reads only the target named by --source, and names one it cannot reach', async () => {
    old = engineOnFakes();
    const b = await old.engine.backup({ target: 'all', requester: 'cron' });
    old.s3.unreachableBecause('connect ECONNREFUSED 127.0.0.1:9');
    const engine = newHost(old);

    const all = await engine.rebuildCatalog();
    await expect(newHost(old).rebuildCatalog({ source: 'offsite-9' })).rejects.toThrow(
      /unknown target 'offsite-9'; allowed: local, s3/,
    );

    expect(all.read).toEqual(['local']);
    expect(all.unreachable.join()).toMatch(/^s3: .*ECONNREFUSED/);
    expect(all.snapshot?.setId).toBe(b.setId);
  });
});
