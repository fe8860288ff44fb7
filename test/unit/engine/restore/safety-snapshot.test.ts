// The safety snapshot of databases known only from the catalog: reached as their backup recorded.
import { describe, expect, it } from 'vitest';
import type { DatabaseAsset } from '../../../../src/domain/assets.js';
import { type PlannedAsset, planFingerprint, type RestorePlan } from '../../../../src/domain/restore-plan.js';
import type { EngineDeps } from '../../../../src/engine/deps.js';
import { liveDbTarget } from '../../../../src/engine/restore/restore-steps.js';
import { snapshotAssets } from '../../../../src/engine/restore/safety-snapshot.js';

/** A database in a plan whose container is live but which no config or label declares any more. */
function catalogOnly(overrides: Partial<PlannedAsset>): PlannedAsset {
  return {
    asset: 'orders',
    kind: 'database',
    artifactKind: 'postgres-dump',
    setId: 'set-20260101-020000-aaaa',
    setTime: '2026-01-01T02:00:00.000Z',
    file: 'orders.sql.gz',
    sha256: 'ab',
    size: 10,
    engineVersion: 'PostgreSQL 16',
    readFrom: 'local',
    lossWindowMs: 1000,
    rpoMs: undefined,
    rtoMs: undefined,
    container: 'orders-db',
    ...overrides,
  };
}

function planOf(...assets: PlannedAsset[]): RestorePlan {
  const base: Omit<RestorePlan, 'fingerprint'> = {
    scope: 'db-only',
    from: undefined,
    assets,
    stopContainers: [],
    rtoMs: undefined,
    expectedMs: undefined,
    diskFreeBytes: undefined,
    notes: [],
  };
  return { ...base, fingerprint: planFingerprint(base) };
}

/** A runtime whose containers hold exactly these environment variables. */
function depsWithEnv(env: Record<string, Record<string, string>>): EngineDeps {
  const runtime = {
    containerEnv: async (container: string, key: string) => env[container]?.[key],
  };
  return { runtime } as unknown as EngineDeps;
}

describe('the safety snapshot of a database known only from the catalog', () => {
  it('dumps it as the user and with the password variable its backup recorded', async () => {
    const planned = catalogOnly({ engine: 'postgres', user: 'shop', passwordEnv: 'SHOP_DB_PASSWORD' });
    const deps = depsWithEnv({ 'orders-db': { SHOP_DB_PASSWORD: 's3cret', POSTGRES_PASSWORD: 'other' } });

    const { assets } = snapshotAssets(planOf(planned), []);
    const target = await liveDbTarget(deps, planned);

    expect(assets).toHaveLength(1);
    expect(assets[0]).toMatchObject({
      kind: 'database',
      name: 'orders',
      engine: 'postgres',
      container: 'orders-db',
      user: 'shop',
      passwordEnv: 'SHOP_DB_PASSWORD',
    });
    expect(target).toMatchObject({ engine: 'postgres', user: 'shop', password: 's3cret' });
  });

  it("uses PostgreSQL's own defaults when nothing was recorded, never MySQL's root", async () => {
    const planned = catalogOnly({ engine: 'postgres' });
    const deps = depsWithEnv({ 'orders-db': { POSTGRES_PASSWORD: 'pg', MYSQL_ROOT_PASSWORD: 'my' } });

    const { assets } = snapshotAssets(planOf(planned), []);
    const target = await liveDbTarget(deps, planned);

    expect(assets[0]).toMatchObject({
      engine: 'postgres',
      user: 'postgres',
      passwordEnv: 'POSTGRES_PASSWORD',
    });
    expect(target).toMatchObject({ user: 'postgres', password: 'pg' });
  });

  it('tells a PostgreSQL backup that recorded no engine by its artifact kind', () => {
    const planned = catalogOnly({});

    const { assets } = snapshotAssets(planOf(planned), []);

    expect(assets[0]).toMatchObject({
      engine: 'postgres',
      user: 'postgres',
      passwordEnv: 'POSTGRES_PASSWORD',
    });
  });

  it("keeps MySQL's and MariaDB's root defaults for their dumps", () => {
    const mysql = catalogOnly({ asset: 'a', artifactKind: 'mysql-dump', engine: 'mysql', container: 'a-db' });
    const mariadb = catalogOnly({
      asset: 'b',
      artifactKind: 'mysql-dump',
      engine: 'mariadb',
      container: 'b-db',
    });

    const { assets } = snapshotAssets(planOf(mysql, mariadb), []);

    expect(assets.map((a) => [(a as DatabaseAsset).user, (a as DatabaseAsset).passwordEnv])).toEqual([
      ['root', 'MYSQL_ROOT_PASSWORD'],
      ['root', 'MARIADB_ROOT_PASSWORD'],
    ]);
  });

  it('takes a live database as the inventory declares it', () => {
    const planned = catalogOnly({ user: 'recorded', passwordEnv: 'RECORDED' });
    const live: DatabaseAsset = {
      kind: 'database',
      name: 'orders',
      engine: 'postgres',
      container: 'orders-db',
      user: 'declared',
      passwordEnv: 'DECLARED',
      policy: {} as DatabaseAsset['policy'],
      source: 'config',
    };

    const { assets } = snapshotAssets(planOf(planned), [live]);

    expect(assets).toEqual([live]);
  });
});
