import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../../src/adapters/sqlite/sqlite-store.js';
import type { Asset } from '../../../../src/domain/assets.js';
import { logKey, type PitrLog } from '../../../../src/domain/pitr.js';
import type { EngineDeps } from '../../../../src/engine/deps.js';
import { pointInTimeFor, withoutPointInTime } from '../../../../src/engine/pitr/pitr-restore.js';
import { pitrState, recoverablePoint } from '../../../../src/engine/pitr/window.js';

const T = Date.parse('2026-11-29T06:00:00Z');
const at = (s: number) => new Date(T + s * 1000);

/** A state file with one complete dump of `db` at second 25 and logs 1–4 (log n covers [10n, 10n+10]). */
function world(options: { deepVerified?: boolean } = {}) {
  const store = openSqliteStore(':memory:');
  const run = store.createRun({
    kind: 'backup',
    requester: 't',
    target: 'db',
    status: 'succeeded',
    at: at(25),
  });
  store.createSet({ id: 'set-25', runId: run.id, createdAt: at(25) });
  const id = store.addArtifact({
    setId: 'set-25',
    asset: 'db',
    kind: 'mysql-dump',
    file: 'db.sql.gz',
    compression: 'gzip',
    startedAt: at(25),
  });
  store.updateArtifact(id, {
    status: 'complete',
    size: 10,
    sha256: 'a',
    endedAt: at(26),
    ...(options.deepVerified ? { deepVerifiedAt: at(30) } : {}),
  });
  store.updateSet('set-25', { status: 'complete', completedAt: at(26) });
  for (const n of [1, 2, 3, 4]) {
    const name = `mysql-bin.00000${n}`;
    const log: PitrLog = {
      asset: 'db',
      name,
      seq: n,
      key: logKey('db', name, at(10 * n)),
      firstAt: at(10 * n),
      lastAt: at(10 * n + 10),
      size: 1,
      rawSize: 1,
      sha256: 'x',
      archivedAt: at(10 * n + 10),
      status: 'complete',
      error: undefined,
      targets: ['local'],
    };
    store.savePitrLog(log);
  }
  const deps = { store } as unknown as EngineDeps;
  return { store, deps };
}
const database = {
  name: 'db',
  kind: 'database' as const,
  asset: { kind: 'database', engine: 'mariadb' } as Asset,
};

describe('a restore to a point in time, planned from the catalog', () => {
  it('picks the dump and the logs up to the target, with the loss the catalog can vouch for', () => {
    const { deps, store } = world();

    const { set, pointInTime, lossWindowMs } = pointInTimeFor(deps, database, at(33), store.listSets());

    expect(set.id).toBe('set-25');
    expect(pointInTime.logs).toEqual(['mysql-bin.000002', 'mysql-bin.000003']);
    expect(pointInTime.windowTo).toBe(at(49).toISOString());
    expect(lossWindowMs).toBe(3000);
  });

  it('refuses a time outside the window, naming the window', () => {
    const { deps, store } = world();

    expect(() => pointInTimeFor(deps, database, at(60), store.listSets())).toThrow(
      '--to 2026-11-29T06:01:00Z is outside the recovery window of db: restorable to any second from 2026-11-29T06:00:25Z to 2026-11-29T06:00:49Z',
    );
  });

  it('refuses a volume, saying what --to covers, and a database with no archived logs, naming its empty window', () => {
    const { deps, store } = world();
    const volume = { name: 'files', kind: 'volume' as const, asset: undefined };
    const pg = {
      name: 'pg',
      kind: 'database' as const,
      asset: { kind: 'database', engine: 'postgres' } as Asset,
    };

    expect(() => pointInTimeFor(deps, volume, at(33), store.listSets())).toThrow(
      /files is a volume; a restore to a point in time covers databases with archived binary logs or WAL/,
    );
    expect(() => pointInTimeFor(deps, pg, at(33), store.listSets())).toThrow(
      /outside the recovery window of pg: restorable to any second from none/,
    );
  });

  it('names a failed log as a gap, and counts only deep-verified dumps for the RPO', () => {
    const { deps, store } = world({ deepVerified: true });
    const before = recoverablePoint(deps, 'db');

    store.markPitrLog('db', logKey('db', 'mysql-bin.000003', at(30)), 'failed', 'local: gone');

    expect(before).toEqual(at(49));
    expect(recoverablePoint(deps, 'db')).toEqual(at(29));
    expect(pitrState(deps, 'db').gaps[0]?.missing).toEqual(['mysql-bin.000003 (local: gone)']);
    expect(recoverablePoint(world().deps, 'db')).toBeUndefined();
  });

  it('leaves a database without point-in-time recovery out of db-only --to, saying why', () => {
    const policy = { tier: 'important' } as Extract<Asset, { kind: 'database' }>['policy'];
    const pg = { kind: 'database', engine: 'postgres', policy: { ...policy, pitrMs: 60_000 } } as Asset;
    const noPitr = { kind: 'database', engine: 'mariadb', policy } as Asset;
    const withPitr = { kind: 'database', engine: 'mariadb', policy: { ...policy, pitrMs: 60_000 } } as Asset;

    expect(withoutPointInTime({ name: 'pg', kind: 'database', asset: pg })).toBeUndefined();
    expect(withoutPointInTime({ name: 'old', kind: 'database', asset: noPitr })).toBe(
      'old: its tier important has no pitr, so no archived logs; it is left as it is',
    );
    expect(withoutPointInTime({ name: 'db', kind: 'database', asset: withPitr })).toBeUndefined();
  });
});
