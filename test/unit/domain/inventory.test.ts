// The inventory: volumes and databases classified into assets, and what is invalid and why.
import { describe, expect, it } from 'vitest';
import type { Asset, DatabaseAsset, VolumeAsset } from '../../../src/domain/assets.js';
import { buildInventory, type DeclaredDatabase } from '../../../src/domain/inventory.js';
import type { ContainerInfo, VolumeInfo } from '../../../src/ports/container-runtime.js';
import { aContainer, aDeclaredDatabase, aVolume, defaultTiers } from '../../fixtures/builders.js';

function inventoryOf(input: {
  volumes?: VolumeInfo[];
  containers?: ContainerInfo[];
  databases?: DeclaredDatabase[];
}) {
  return buildInventory({
    volumes: input.volumes ?? [],
    containers: input.containers ?? [],
    databases: input.databases ?? [],
    tiers: defaultTiers(),
  });
}

function assetNamed(assets: Asset[], name: string): Asset {
  const found = assets.find((a) => a.name === name);
  if (!found) throw new Error(`no asset ${name} in ${assets.map((a) => a.name).join(', ')}`);
  return found;
}

const volumeNamed = (assets: Asset[], name: string) => assetNamed(assets, name) as VolumeAsset;
const databaseNamed = (assets: Asset[], name: string) => assetNamed(assets, name) as DatabaseAsset;

describe('buildInventory: volumes', () => {
  it('turns a labelled volume into an asset with its policy and the containers that mount it', () => {
    const volumes = [aVolume('app-data', { tier: 'critical', backup: 'realtime', retention: '7years' })];
    const containers = [
      aContainer('web', { volumes: ['app-data'] }),
      aContainer('worker', { volumes: ['app-data'] }),
    ];

    const inventory = inventoryOf({ volumes, containers });

    expect(inventory.assets).toHaveLength(1);
    const asset = volumeNamed(inventory.assets, 'app-data');
    expect(asset.kind).toBe('volume');
    expect(asset.volume).toBe('app-data');
    expect(asset.usedBy).toEqual(['web', 'worker']);
    expect(asset.policy).toMatchObject({
      tier: 'critical',
      frequency: 'realtime',
      schedule: '*/5 * * * *',
      retention: { count: 7, unit: 'year' },
      protected: true,
    });
    expect(inventory.unprotected).toEqual([]);
    expect(inventory.invalid).toEqual([]);
  });

  it('lists a volume without policy labels as unprotected, never as an asset', () => {
    const volumes = [aVolume('scratch', { 'com.example.owner': 'team-a' })];
    const containers = [aContainer('web', { volumes: ['scratch'] })];

    const inventory = inventoryOf({ volumes, containers });

    expect(inventory.assets).toEqual([]);
    expect(inventory.unprotected).toEqual([{ volume: 'scratch', usedBy: ['web'], coveredBy: undefined }]);
  });

  it('lists unprotected volumes sorted by name with their users sorted', () => {
    const volumes = [aVolume('zeta'), aVolume('alpha')];
    const containers = [
      aContainer('b-app', { volumes: ['alpha'] }),
      aContainer('a-app', { volumes: ['alpha'] }),
    ];

    const inventory = inventoryOf({ volumes, containers });

    expect(inventory.unprotected.map((u) => u.volume)).toEqual(['alpha', 'zeta']);
    expect(inventory.unprotected[0]?.usedBy).toEqual(['a-app', 'b-app']);
    expect(inventory.unprotected[1]?.usedBy).toEqual([]);
  });

  it('marks an unlabelled volume mounted by a database container as covered by that database', () => {
    const volumes = [aVolume('mysql-prod-data')];
    const containers = [aContainer('mysql-prod', { volumes: ['mysql-prod-data'] })];
    const databases = [aDeclaredDatabase({ name: 'main', container: 'mysql-prod' })];

    const inventory = inventoryOf({ volumes, containers, databases });

    expect(inventory.unprotected).toEqual([
      { volume: 'mysql-prod-data', usedBy: ['mysql-prod'], coveredBy: 'main' },
    ]);
  });

  it('marks a volume covered by a database discovered from labels, under its dr.name', () => {
    const volumes = [aVolume('pg-data')];
    const containers = [
      aContainer('postgres-prod', {
        labels: { 'dr.engine': 'postgres', tier: 'important', 'dr.name': 'inventory' },
        volumes: ['pg-data'],
      }),
    ];

    const inventory = inventoryOf({ volumes, containers });

    expect(inventory.unprotected[0]?.coveredBy).toBe('inventory');
  });

  it('does not call a volume covered when the container mounting it is not a database', () => {
    const volumes = [aVolume('uploads')];
    const containers = [aContainer('web', { volumes: ['uploads'] }), aContainer('mysql-prod')];
    const databases = [aDeclaredDatabase({ container: 'mysql-prod' })];

    const inventory = inventoryOf({ volumes, containers, databases });

    expect(inventory.unprotected[0]?.coveredBy).toBeUndefined();
  });

  it('treats backup=none alone as an excluded asset, not as unprotected or invalid', () => {
    const volumes = [aVolume('cache-data', { backup: 'none' })];

    const inventory = inventoryOf({ volumes });

    const asset = volumeNamed(inventory.assets, 'cache-data');
    expect(asset.policy.protected).toBe(false);
    expect(asset.policy.schedule).toBeUndefined();
    expect(asset.policy.frequency).toBe('none');
    expect(asset.policy.retention).toEqual({ count: 7, unit: 'day' });
    expect(inventory.unprotected).toEqual([]);
    expect(inventory.invalid).toEqual([]);
  });

  it('keeps a retention label next to backup=none', () => {
    const volumes = [aVolume('cache-data', { backup: 'none', retention: '2w' })];

    const inventory = inventoryOf({ volumes });

    expect(volumeNamed(inventory.assets, 'cache-data').policy.retention).toEqual({ count: 2, unit: 'week' });
  });

  it('puts a volume with malformed labels in invalid, naming the volume and each problem', () => {
    const volumes = [aVolume('app-data', { tier: 'gold', backup: 'sometimes' })];

    const inventory = inventoryOf({ volumes });

    expect(inventory.assets).toEqual([]);
    expect(inventory.unprotected).toEqual([]);
    expect(inventory.invalid).toHaveLength(1);
    const invalid = inventory.invalid[0];
    expect(invalid?.name).toBe('app-data');
    expect(invalid?.kind).toBe('volume');
    expect(invalid?.problems).toHaveLength(2);
    expect(invalid?.problems[0]).toMatch(/^volume app-data: label tier='gold' is not a configured tier/);
    expect(invalid?.problems[1]).toMatch(/^volume app-data: label backup='sometimes' is not allowed/);
  });

  it('treats a volume with a retention label but no tier as invalid (tier missing)', () => {
    const volumes = [aVolume('logs-data', { retention: '90d' })];

    const inventory = inventoryOf({ volumes });

    expect(inventory.assets).toEqual([]);
    expect(inventory.invalid[0]?.problems[0]).toContain('label tier is missing');
  });
});

describe('buildInventory: databases', () => {
  it('takes databases from the config with engine defaults for user and password variable', () => {
    const databases = [
      aDeclaredDatabase({ name: 'main', container: 'mysql-prod', engine: 'mysql', tier: 'critical' }),
      aDeclaredDatabase({ name: 'pg', container: 'pg-prod', engine: 'postgres', tier: 'important' }),
    ];

    const inventory = inventoryOf({ databases });

    expect(databaseNamed(inventory.assets, 'main')).toMatchObject({
      kind: 'database',
      engine: 'mysql',
      container: 'mysql-prod',
      user: 'root',
      passwordEnv: 'MYSQL_ROOT_PASSWORD',
      source: 'config',
      policy: { tier: 'critical', protected: true },
    });
    expect(databaseNamed(inventory.assets, 'pg')).toMatchObject({
      user: 'postgres',
      passwordEnv: 'POSTGRES_PASSWORD',
    });
  });

  it('keeps the user, password variable and retention given in the config', () => {
    const databases = [
      aDeclaredDatabase({ engine: 'mariadb', user: 'backup', passwordEnv: 'DB_PASS', retention: '3months' }),
    ];

    const inventory = inventoryOf({ databases });

    const db = databaseNamed(inventory.assets, 'main');
    expect(db.user).toBe('backup');
    expect(db.passwordEnv).toBe('DB_PASS');
    expect(db.policy.retention).toEqual({ count: 3, unit: 'month' });
  });

  it('puts a config database with an unknown tier in invalid', () => {
    const databases = [aDeclaredDatabase({ name: 'main', tier: 'gold' })];

    const inventory = inventoryOf({ databases });

    expect(inventory.assets).toEqual([]);
    expect(inventory.invalid).toEqual([
      {
        name: 'main',
        kind: 'database',
        problems: [
          "label tier='gold' is not a configured tier (allowed: critical, important, logs, temporary)",
        ],
      },
    ]);
  });

  it('discovers a database from container labels dr.engine and tier, named after the container', () => {
    const containers = [
      aContainer('postgres-prod', { labels: { 'dr.engine': 'postgres', tier: 'important' } }),
    ];

    const inventory = inventoryOf({ containers });

    expect(databaseNamed(inventory.assets, 'postgres-prod')).toMatchObject({
      kind: 'database',
      engine: 'postgres',
      container: 'postgres-prod',
      user: 'postgres',
      passwordEnv: 'POSTGRES_PASSWORD',
      source: 'labels',
      policy: { tier: 'important', schedule: '0 2 * * *' },
    });
  });

  it('uses dr.name, dr.user and dr.password-env labels when present', () => {
    const labels = {
      'dr.engine': 'mariadb',
      tier: 'critical',
      'dr.name': 'shop',
      'dr.user': 'dumper',
      'dr.password-env': 'SHOP_PW',
    };
    const containers = [aContainer('mariadb-1', { labels })];

    const inventory = inventoryOf({ containers });

    expect(databaseNamed(inventory.assets, 'shop')).toMatchObject({
      container: 'mariadb-1',
      engine: 'mariadb',
      user: 'dumper',
      passwordEnv: 'SHOP_PW',
    });
  });

  it('ignores containers without dr.engine', () => {
    const containers = [aContainer('web', { labels: { tier: 'critical' } })];

    const inventory = inventoryOf({ containers });

    expect(inventory.assets).toEqual([]);
    expect(inventory.invalid).toEqual([]);
  });

  it('lets the config win over labels for the same container', () => {
    const databases = [aDeclaredDatabase({ name: 'main', container: 'mysql-prod', tier: 'critical' })];
    const containers = [
      aContainer('mysql-prod', { labels: { 'dr.engine': 'postgres', tier: 'logs', 'dr.name': 'other' } }),
    ];

    const inventory = inventoryOf({ databases, containers });

    expect(inventory.assets).toHaveLength(1);
    expect(databaseNamed(inventory.assets, 'main')).toMatchObject({
      engine: 'mysql',
      source: 'config',
      policy: { tier: 'critical' },
    });
    expect(inventory.invalid).toEqual([]);
  });

  it('rejects an unknown dr.engine, naming the value, the container and the allowed engines', () => {
    const containers = [aContainer('mongo-prod', { labels: { 'dr.engine': 'mongodb', tier: 'critical' } })];

    const inventory = inventoryOf({ containers });

    expect(inventory.assets).toEqual([]);
    expect(inventory.invalid).toEqual([
      {
        name: 'mongo-prod',
        kind: 'database',
        problems: [
          "label dr.engine='mongodb' on container mongo-prod is not allowed (allowed: mysql, mariadb, postgres)",
        ],
      },
    ]);
  });

  it('puts a labelled database with a bad tier in invalid, naming the container', () => {
    const containers = [aContainer('pg', { labels: { 'dr.engine': 'postgres', 'dr.name': 'orders' } })];

    const inventory = inventoryOf({ containers });

    expect(inventory.invalid).toHaveLength(1);
    expect(inventory.invalid[0]?.name).toBe('orders');
    expect(inventory.invalid[0]?.problems[0]).toMatch(/^label tier is missing .* on container pg$/);
  });
});

describe('buildInventory: asset names', () => {
  it('rejects a volume that has the same name as a database, keeping the database', () => {
    const databases = [aDeclaredDatabase({ name: 'shared', container: 'mysql-prod' })];
    const volumes = [aVolume('shared', { tier: 'important' })];

    const inventory = inventoryOf({ databases, volumes });

    expect(inventory.assets).toHaveLength(1);
    expect(assetNamed(inventory.assets, 'shared').kind).toBe('database');
    expect(inventory.invalid).toHaveLength(1);
    expect(inventory.invalid[0]).toMatchObject({ name: 'shared', kind: 'volume' });
    expect(inventory.invalid[0]?.problems[0]).toContain("asset name 'shared' is used by a database too");
  });

  it('rejects a second labelled database under a name already taken', () => {
    const labels = { 'dr.engine': 'postgres', tier: 'important', 'dr.name': 'orders' };
    const containers = [aContainer('pg-a', { labels }), aContainer('pg-b', { labels })];

    const inventory = inventoryOf({ containers });

    expect(inventory.assets).toHaveLength(1);
    expect(databaseNamed(inventory.assets, 'orders').container).toBe('pg-a');
    expect(inventory.invalid).toEqual([
      {
        name: 'orders',
        kind: 'database',
        problems: [expect.stringContaining("asset name 'orders' is used by a database too")],
      },
    ]);
  });
});

describe('buildInventory: dr.name and dr.password-env follow the config rules', () => {
  it.each([
    ['a Slack mention', '<!channel>'],
    ['a newline (a forged SHA256SUMS line)', 'shop\nabc123  evil.sql.gz'],
    ['a path', '../etc'],
    ['spaces', 'my shop'],
    ['a leading dot', '.hidden'],
    ['more than 128 characters', 'x'.repeat(129)],
  ])('refuses %s as a name and never shows the value raw', (_what, label) => {
    const containers = [
      aContainer('shop-db', { labels: { 'dr.engine': 'mysql', tier: 'critical', 'dr.name': label } }),
    ];

    const inventory = inventoryOf({ containers });

    expect(inventory.assets).toEqual([]);
    expect(inventory.invalid).toHaveLength(1);
    const invalid = inventory.invalid[0];
    expect(invalid?.name).toBe('shop-db');
    expect(invalid?.problems[0]).toMatch(
      /^label dr\.name='[^']*' on container shop-db is not allowed: must be letters, digits, _ \. - \(max 128\)$/,
    );
    expect(JSON.stringify(invalid)).not.toMatch(/[<>\n]|\\n/);
  });

  it('accepts a name of letters, digits, _ . - up to 128 characters', () => {
    const name = `Shop_db.v2-${'x'.repeat(117)}`;
    const containers = [
      aContainer('shop-db', { labels: { 'dr.engine': 'mysql', tier: 'critical', 'dr.name': name } }),
    ];

    const inventory = inventoryOf({ containers });

    expect(inventory.invalid).toEqual([]);
    expect(databaseNamed(inventory.assets, name).container).toBe('shop-db');
  });

  it('refuses a dr.password-env that is not an environment variable name', () => {
    const containers = [
      aContainer('shop-db', {
        labels: { 'dr.engine': 'mysql', tier: 'critical', 'dr.password-env': 'A=B; x' },
      }),
    ];

    const inventory = inventoryOf({ containers });

    expect(inventory.assets).toEqual([]);
    expect(inventory.invalid[0]?.problems).toEqual([
      "label dr.password-env='A=B? x' on container shop-db is not allowed: must be an environment variable name",
    ]);
  });

  it('does not echo a bad dr.engine value raw', () => {
    const containers = [aContainer('x', { labels: { 'dr.engine': '<!here>', tier: 'critical' } })];

    const inventory = inventoryOf({ containers });

    expect(inventory.invalid[0]?.problems[0]).toBe(
      "label dr.engine='??here?' on container x is not allowed (allowed: mysql, mariadb, postgres)",
    );
  });
});

describe('buildInventory: a database data volume with policy labels', () => {
  const db = aContainer('orders-db', {
    labels: { 'dr.engine': 'mariadb', tier: 'important' },
    volumes: ['orders-data'],
  });

  it('is covered by the database dump and never backed up as a live tar', () => {
    const volumes = [aVolume('orders-data', { tier: 'critical', backup: 'realtime' })];

    const inventory = inventoryOf({ volumes, containers: [db] });

    const asset = volumeNamed(inventory.assets, 'orders-data');
    expect(asset.dataOf).toBe('orders-db');
    expect(asset.archiveStopped).toBeUndefined();
    expect(asset.policy.protected).toBe(false);
    expect(asset.policy.tier).toBe('critical');
    expect(inventory.invalid).toEqual([]);
  });

  it('is archived, with the database stopped, when labelled drbot.archive=stopped', () => {
    const volumes = [aVolume('orders-data', { tier: 'critical', 'drbot.archive': 'stopped' })];

    const inventory = inventoryOf({ volumes, containers: [db] });

    const asset = volumeNamed(inventory.assets, 'orders-data');
    expect(asset.dataOf).toBe('orders-db');
    expect(asset.archiveStopped).toBe(true);
    expect(asset.policy.protected).toBe(true);
  });

  it('refuses any other drbot.archive value, naming what is allowed', () => {
    const volumes = [aVolume('orders-data', { tier: 'critical', 'drbot.archive': 'live' })];

    const inventory = inventoryOf({ volumes, containers: [db] });

    expect(inventory.assets.map((a) => a.name)).toEqual(['orders-db']);
    expect(inventory.invalid).toEqual([
      {
        name: 'orders-data',
        kind: 'volume',
        problems: ["volume orders-data: label drbot.archive='live' is not allowed (allowed: stopped)"],
      },
    ]);
  });

  it('leaves a labelled volume of a container that is no database as it was', () => {
    const volumes = [aVolume('app-data', { tier: 'critical' })];

    const inventory = inventoryOf({ volumes, containers: [aContainer('web', { volumes: ['app-data'] })] });

    const asset = volumeNamed(inventory.assets, 'app-data');
    expect(asset.dataOf).toBeUndefined();
    expect(asset.policy.protected).toBe(true);
  });
});
