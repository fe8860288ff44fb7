// Restore runs on the in-memory fakes: the six stages, the safety snapshot first, and every way it must stop short.
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { commandLineGate } from '../../../../src/engine/runs/approval.js';
import { engineOnFakes, type FakeWorld, SHOP } from '../../../fakes/engine-on-fakes.js';
import { tarFiles } from '../../../fakes/fake-tar.js';

const DAMAGED = 'orders v2, mangled by a bad migration';

let world: FakeWorld | undefined;

/** The shop backed up, then damaged ten minutes later: the database and the uploads changed. */
async function damagedShop() {
  const w = engineOnFakes();
  world = w;
  const backup = await w.engine.backup({ target: 'all', requester: 'alice' });
  expect(backup.status).toBe('succeeded');
  w.clock.advance(10 * 60_000);
  w.runtime.setDatabaseContent(SHOP.dbContainer, DAMAGED);
  w.runtime.writeFile(SHOP.volume, 'a.txt', 'ALPHA overwritten');
  w.runtime.writeFile(SHOP.volume, 'new.txt', 'written after the backup');
  w.runtime.ops.length = 0;
  return { ...w, backup };
}

afterEach(() => {
  // A command the fakes do not know means the engine changed what it sends: look at it.
  expect(world?.runtime.unknown ?? []).toEqual([]);
  world?.close();
  world = undefined;
});

const gate = (w: FakeWorld, yes: boolean) => commandLineGate(yes, 'alice', () => w.clock.now());

function stages(w: FakeWorld, runId: string): string[] {
  return w.engine
    .run(runId)
    .events.filter((e) => e.type === 'stage-start')
    .map((e) => e.stage as string);
}

/** Whatever the run did that changes a container or a volume (reads and execs of probes aside). */
const changes = (ops: string[]) =>
  ops.filter((o) => /^(start|stop|import|create-volume|remove-volume|run-once|create-container) /.test(o));

describe('engine.restore on fakes', () => {
  it('db-only: goes through the six stages, snapshots the live database before loading the dump into it', async () => {
    const w = await damagedShop();

    const out = await w.engine.restore({
      scope: 'db-only',
      from: undefined,
      requester: 'alice',
      gate: gate(w, true),
    });

    expect(out.status).toBe('succeeded');
    expect(stages(w, out.run.id)).toEqual([
      'assess',
      'assemble',
      'verify',
      'restore',
      'resume',
      'postmortem',
    ]);
    expect(w.runtime.databaseContent(SHOP.dbContainer)).toBe(SHOP.content);
    const snapshotDump = w.runtime.ops.findIndex((o) => o.startsWith('exec db mariadb-dump '));
    const load = w.runtime.ops.findIndex((o) =>
      o.startsWith('exec db mariadb --user=root --default-character-set'),
    );
    expect(snapshotDump).toBeGreaterThanOrEqual(0);
    expect(load).toBeGreaterThan(snapshotDump);
    const safety = w.engine.getSet(out.safetySetId as string);
    expect([safety?.purpose, safety?.status]).toEqual(['safety', 'complete']);
    const saved = gunzipSync(w.local.object(`${out.safetySetId}/main.sql.gz`) as Buffer).toString('utf8');
    expect(saved).toContain(DAMAGED);
    expect(w.s3.files('put').filter((f) => f === 'manifest.json')).toHaveLength(1); // the backup's only
    expect(w.runtime.volumeFiles(SHOP.volume)['a.txt']).toBe('ALPHA overwritten');
    expect(out.postmortem).toContain(out.run.id);
  });

  it('full: stops the service, snapshots, restores the database and the volume file by file, starts the service again', async () => {
    const w = await damagedShop();

    const out = await w.engine.restore({
      scope: 'full',
      from: undefined,
      requester: 'alice',
      gate: gate(w, true),
    });

    expect(out.status).toBe('succeeded');
    expect(w.runtime.databaseContent(SHOP.dbContainer)).toBe(SHOP.content);
    expect(w.runtime.volumeFiles(SHOP.volume)).toEqual(SHOP.files);
    const saved = await tarFiles(w.local.object(`${out.safetySetId}/uploads.tar.gz`) as Buffer);
    expect(saved).toEqual({
      ...SHOP.files,
      'a.txt': 'ALPHA overwritten',
      'new.txt': 'written after the backup',
    });
    const ops = w.runtime.ops;
    expect(ops.indexOf(`export ${SHOP.volume}`)).toBeLessThan(ops.indexOf(`import ${SHOP.volume}`));
    expect(ops.filter((o) => /^(stop|start) web$/.test(o))).toEqual(['stop web', 'start web']);
    expect(w.runtime.container(SHOP.web).state).toBe('running');
    expect(w.runtime.leftovers()).toEqual([]);
  });

  it('checks the whole volume again after removing files the backup does not have', async () => {
    const w = await damagedShop();
    const runOnce = w.runtime.runOnce.bind(w.runtime);
    w.runtime.runOnce = async (spec) => {
      const res = await runOnce(spec);
      w.runtime.writeFile(SHOP.volume, 'a.txt', 'touched by the clean-up'); // a restored file changed
      return res;
    };

    const out = await w.engine.restore({
      scope: 'full',
      from: undefined,
      requester: 'alice',
      gate: gate(w, true),
    });

    expect(out.status).toBe('failed');
    expect(out.failures.join()).toMatch(
      /uploads no longer matches the backup after removing files it does not have: .*a\.txt/,
    );
    expect(w.runtime.container(SHOP.web).state).toBe('running');
  });

  it('touches nothing when the approval is refused', async () => {
    const w = await damagedShop();

    const out = await w.engine.restore({
      scope: 'full',
      from: undefined,
      requester: 'alice',
      gate: gate(w, false),
    });

    expect(out.status).toBe('rejected');
    expect(w.engine.run(out.run.id).run.status).toBe('rejected');
    expect(stages(w, out.run.id)).toEqual(['assess', 'assemble']);
    expect(w.runtime.ops).toEqual([]);
    expect(w.runtime.databaseContent(SHOP.dbContainer)).toBe(DAMAGED);
    expect(w.store.listSets({ purpose: 'safety' })).toEqual([]);
  });

  it('stops at verify, touching nothing, when every copy of the dump is corrupt', async () => {
    const w = await damagedShop();
    for (const t of [w.local, w.s3]) t.corrupt(`${w.backup.setId}/main.sql.gz`);

    const out = await w.engine.restore({
      scope: 'db-only',
      from: undefined,
      requester: 'alice',
      gate: gate(w, true),
    });

    expect(out.status).toBe('failed');
    expect(out.failures.join(' | ')).toMatch(
      new RegExp(
        `asset main, step verify: main\\.sql\\.gz of ${w.backup.setId} on local: checksum mismatch: .*; on s3: checksum mismatch: .*; nothing live was touched`,
      ),
    );
    expect(stages(w, out.run.id)).toEqual(['assess', 'assemble', 'verify', 'postmortem']);
    expect(changes(w.runtime.ops)).toEqual([]);
    expect(w.runtime.databaseContent(SHOP.dbContainer)).toBe(DAMAGED);
    expect(w.store.listSets({ purpose: 'safety' })).toEqual([]);
  });

  it('gives up on a database that never answers at its deadline on the clock, not in real time, and starts the service again', async () => {
    const w = await damagedShop();
    w.runtime.neverReady(SHOP.dbContainer);
    const started = performance.now();

    const out = await w.engine.restore({
      scope: 'full',
      from: undefined,
      requester: 'alice',
      gate: gate(w, true),
    });

    expect(performance.now() - started).toBeLessThan(3000);
    expect(w.clock.monotonic()).toBeGreaterThanOrEqual(w.config.ms.restoreReadiness);
    expect(out.status).toBe('failed');
    expect(out.failures.join(' | ')).toMatch(
      /mariadb in container db was not ready within 300 s: .*Can't connect/,
    );
    expect(w.runtime.ops.filter((o) => /^(stop|start) web$/.test(o))).toEqual(['stop web', 'start web']);
    expect(w.runtime.container(SHOP.web).state).toBe('running');
    expect(w.runtime.databaseContent(SHOP.dbContainer)).toBe(DAMAGED);
    expect(w.runtime.volumeFiles(SHOP.volume)['new.txt']).toBe('written after the backup');
  });
});
