import { afterEach, describe, expect, it } from 'vitest';
import { passNote } from '../../../../src/engine/pitr/archiver.js';
import { engineOnFakes, type FakeWorld } from '../../../fakes/engine-on-fakes.js';

let world: FakeWorld | undefined;
afterEach(() => {
  expect(world?.runtime.unknown ?? []).toEqual([]);
  world?.close();
  world = undefined;
});

describe('an archive pass after a backup (no scheduler: cron running `drbot backup`)', () => {
  it('runs for a point-in-time database found by its labels, and for one from the config file', async () => {
    world = engineOnFakes({
      arrange: (rt) =>
        rt.addDatabase({
          name: 'ledger',
          engine: 'postgres',
          password: 'pg-secret',
          content: 'ledger v1',
          labels: { 'dr.engine': 'postgres', tier: 'critical' },
        }),
    });

    const outcome = await world.engine.backup({ target: 'all', requester: 'test' });

    expect(outcome.status, outcome.failures.join()).toBe('succeeded');
    const names = (await world.engine.pitrDatabases()).map((d) => d.name).sort();
    expect(names).toEqual(['ledger', 'main']);
    // The fake servers have binary logging and WAL archiving off: each pass says what to change.
    const ledger = JSON.parse(world.store.getNote(passNote('ledger')) ?? '{}') as { problem?: string };
    expect(ledger.problem).toMatch(/^wal_level is minimal on ledger: set wal_level = replica/);
    const shop = JSON.parse(world.store.getNote(passNote('main')) ?? '{}') as { problem?: string };
    expect(shop.problem).toMatch(/binary logging is off/);
    // `status` and `policy` ask the same of the live server: the setting to change, and the RPO stays on dumps.
    const ledgerDb = (await world.engine.pitrDatabases()).find((d) => d.name === 'ledger');
    expect(await world.engine.pitrProblem(ledgerDb as NonNullable<typeof ledgerDb>)).toMatch(
      /^wal_level is minimal on ledger/,
    );
    const policy = await world.engine.pitrPolicy();
    expect(policy.join('\n')).toMatch(
      /ledger: FLAGGED: wal_level is minimal on ledger: set wal_level = replica .*; its RPO is measured on dumps/,
    );
  });

  it('does not run for a database whose tier has no pitr', async () => {
    world = engineOnFakes({
      config: { databases: [{ name: 'main', container: 'db', engine: 'mariadb', tier: 'important' }] },
    });

    const outcome = await world.engine.backup({ target: 'all', requester: 'test' });

    expect(outcome.status, outcome.failures.join()).toBe('succeeded');
    expect(world.store.getNote(passNote('main'))).toBeUndefined();
  });
});
